/* Loads clips with milnce's decoder, one decoder for the whole list (as one loader thread does),
 * and prints clips per CPU-second. Usage: clip_loading_milnce VIDEO STARTS.txt
 * Each line of STARTS.txt is a start time in seconds; a clip is 16 frames at 5 fps, short side
 * resized to 224, centre 224 x 224 crop. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <libavutil/log.h>

#include "video.h"

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s VIDEO STARTS.txt\n", argv[0]);
        return 2;
    }
    av_log_set_level(AV_LOG_ERROR);
    FILE *f = fopen(argv[2], "r");
    if (!f) { perror(argv[2]); return 1; }
    double starts[100000];
    int n = 0;
    while (n < 100000 && fscanf(f, "%lf", &starts[n]) == 1) n++;
    fclose(f);

    milnce_error err = {0};
    milnce_decoder *d = NULL;
    milnce_frames fr = {0};
    double t0 = cpu_seconds();
    if (milnce_decoder_open(&d, argv[1], NULL, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    long frames = 0;
    unsigned long checksum = 0;
    for (int i = 0; i < n; i++) {
        milnce_clip_spec spec = {.start = starts[i], .end = starts[i] + 3.2, .fps = 5, .size = 224,
                                 .crop = MILNCE_CROP_CENTER, .crop_size = 224, .max_frames = 16};
        if (milnce_decoder_clip(d, &spec, &fr, &err) < 0) {
            fprintf(stderr, "clip %d: %s\n", i, err.msg);
            return 1;
        }
        frames += fr.t;
        checksum += fr.t ? fr.data[(size_t)fr.t * fr.h * fr.w * 3 / 2] : 0;
    }
    double cpu = cpu_seconds() - t0;
    int64_t dec = 0, skip = 0;
    milnce_decoder_stats(d, &dec, &skip);
    printf("milnce  clips=%d frames=%ld cpu=%.2fs clips_per_cpu_s=%.2f decoded=%lld skip_requests=%lld (checksum %lu)\n",
           n, frames, cpu, n / cpu, (long long)dec, (long long)skip, checksum);
    milnce_frames_free(&fr);
    milnce_decoder_free(&d);
    return 0;
}
