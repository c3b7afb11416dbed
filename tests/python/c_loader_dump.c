/* The C loader's batches as .npy files, for tests/python/test_loader.py to compare the Python
 * loader with byte for byte. Options are given one by one (not through a config), so the test
 * also checks the config -> loader mapping of pipeline/api/api_loader.c.
 *
 *   c_loader_dump SHARDS OUTDIR START COUNT BATCH FRAMES FPS SIZE MIN_TIME WINDOW(nearest|symmetric)
 *                 K MAX_WORDS TRAIN SEED RANK WORLD RESIZE
 * writes OUTDIR/<index>_{video,text,mask,video_idx,anchor,clip_start}.npy for the global batches
 * START .. START+COUNT-1, made by milnce_loader_open/next with 2 workers. Exit 0, or 1 with a
 * message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "npy.h"

int main(int argc, char **argv) {
    if (argc != 18) {
        fprintf(stderr, "usage: see the header of tests/python/c_loader_dump.c\n");
        return 2;
    }
    milnce_loader_opts o;
    milnce_loader_opts_default(&o);
    o.shards = argv[1];
    const char *out = argv[2];
    o.start_batch = atoll(argv[3]);
    int count = atoi(argv[4]);
    o.batch_size = atoi(argv[5]);
    o.num_frames = atoi(argv[6]);
    o.fps = atof(argv[7]);
    o.size = atoi(argv[8]);
    o.min_time = atof(argv[9]);
    o.window.kind = strcmp(argv[10], "symmetric") == 0 ? MILNCE_WINDOW_SYMMETRIC : MILNCE_WINDOW_NEAREST;
    o.window.k = atoi(argv[11]);
    o.max_words = atoi(argv[12]);
    o.train = atoi(argv[13]);
    o.seed = strtoull(argv[14], NULL, 10);
    o.rank = atoi(argv[15]);
    o.world = atoi(argv[16]);
    o.resize = atoi(argv[17]);
    o.workers = 2;
    milnce_error err = {0};
    milnce_loader *l = NULL;
    if (milnce_loader_open(&l, &o, &err) < 0) {
        fprintf(stderr, "c_loader_dump: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < count && rc == 0; i++) {
        milnce_batch *b;
        if (milnce_loader_next(l, &b, &err) < 0) {
            fprintf(stderr, "c_loader_dump: %s\n", err.msg);
            rc = 1;
            break;
        }
        char p[4200];
        int64_t sv[5] = {b->B, 3, b->T, b->S, b->S}, st[3] = {b->B, b->K, b->L}, sm[2] = {b->B, b->K}, s1[1] = {b->B};
#define W(name, dt, nd, shape, data)                                                         \
        snprintf(p, sizeof p, "%s/%lld_%s.npy", out, (long long)b->index, name);            \
        if (rc == 0 && milnce_npy_write(p, dt, nd, shape, data, &err) < 0) rc = 1;
        W("video", MILNCE_NPY_F32, 5, sv, b->video)
        W("text", MILNCE_NPY_I32, 3, st, b->text)
        W("mask", MILNCE_NPY_U8, 2, sm, b->mask)
        W("video_idx", MILNCE_NPY_I32, 1, s1, b->video_idx)
        W("anchor", MILNCE_NPY_I32, 1, s1, b->anchor)
        W("clip_start", MILNCE_NPY_F64, 1, s1, b->clip_start)
#undef W
        if (rc) fprintf(stderr, "c_loader_dump: %s\n", err.msg);
        milnce_loader_release(l, b);
    }
    milnce_loader_close(&l);
    return rc;
}
