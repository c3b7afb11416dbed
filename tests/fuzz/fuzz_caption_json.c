/* HowTo100M caption.json through the streaming reader (a file, read in chunks) to its end. */
#include <stdint.h>

#include "fuzz_util.h"
#include "transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0) return 0;
    milnce_transcript_opts o;
    milnce_transcript_opts_default(&o);
    o.strict = size & 1;
    milnce_caption_json *r;
    milnce_error err = {0};
    int rc = milnce_caption_json_open(path, &o, NULL, &r, &err);
    fuzz_check_error(rc, &err, "milnce_caption_json_open");
    if (rc == 0) {
        milnce_cues c = {0};
        char *id = NULL;
        while ((rc = milnce_caption_json_next(r, &id, &c, &err)) == 1) {
            for (size_t i = 0; i < c.n; i++)
                if (!milnce_cue_time_ok(c.v[i].start) || !milnce_cue_time_ok(c.v[i].end)) abort();
            free(id);
            id = NULL;
        }
        fuzz_check_error(rc, &err, "milnce_caption_json_next");
        milnce_cues_free(&c);
        milnce_caption_json_close(&r);
    }
    close(fd);
    return 0;
}
