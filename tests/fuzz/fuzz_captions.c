/* Caption readers (CSV, SRT, SBV, WebVTT, caption.json in memory, content sniffing) and the full
 * W3C WebVTT parser. Byte 0 picks the format and options; the rest is the file. Every cue that
 * comes out must have bounded, ordered times and text. */
#include <stdint.h>

#include "fuzz_util.h"
#include "transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const milnce_caption_format fmts[] = {MILNCE_CAPTIONS_AUTO, MILNCE_CAPTIONS_CSV, MILNCE_CAPTIONS_SRT,
                                                 MILNCE_CAPTIONS_SBV, MILNCE_CAPTIONS_VTT, MILNCE_CAPTIONS_JSON};
    uint8_t sel = data[0];
    milnce_transcript_opts o;
    milnce_transcript_opts_default(&o);
    o.strict = (sel >> 3) & 1;
    o.clean = !((sel >> 4) & 1);
    o.rolling = (sel >> 5) % 3;
    o.overlap = (sel >> 6) % 3;
    o.fallback_encodings = "CP1252";
    milnce_cues c = {0};
    milnce_error err = {0};
    int rc = milnce_transcript_parse("fuzz.in", data + 1, size - 1, fmts[(sel & 7) % 6], &o, &c, NULL, &err);
    fuzz_check_error(rc, &err, "milnce_transcript_parse");
    for (size_t i = 0; i < c.n; i++)
        if (!c.v[i].text || !milnce_cue_time_ok(c.v[i].start) || !milnce_cue_time_ok(c.v[i].end) ||
            c.v[i].end < c.v[i].start) {
            fprintf(stderr, "cue %zu: %g --> %g\n", i, c.v[i].start, c.v[i].end);
            abort();
        }
    milnce_cues_free(&c);
    milnce_vtt v;
    if (milnce_vtt_parse("fuzz.vtt", (const char *)data + 1, size - 1, &v, &err) == 0) milnce_vtt_free(&v);
    return 0;
}
