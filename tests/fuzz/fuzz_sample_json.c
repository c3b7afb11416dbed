/* A shard sample's .json member as the training loader reads it. */
#include <stdint.h>

#include "cues.h"
#include "fuzz_util.h"
#include "sample_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    milnce_sample_sentences s;
    milnce_error err = {0};
    int rc = milnce_sample_sentences_parse(data, size, "fuzz.json", &s, &err);
    fuzz_check_error(rc, &err, "milnce_sample_sentences_parse");
    if (rc == 0) {
        if (s.n == 0 || !milnce_cue_time_ok(s.duration)) abort();
        for (size_t i = 0; i < s.n; i++) {
            if (!milnce_cue_time_ok(s.start[i]) || !milnce_cue_time_ok(s.end[i]) || s.ntok[i] < 0) abort();
            for (int k = 0; k < s.ntok[i]; k++)
                if (s.tok[i][k] < 0) abort();
        }
        milnce_sample_sentences_free(&s);
    }
    return 0;
}
