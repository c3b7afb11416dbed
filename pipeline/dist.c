#include "dist.h"

#include <stdlib.h>
#include <string.h>

milnce_launcher milnce_launcher_detect(void) {
    static const struct {
        const char *rank, *size;
        int mpi;
    } vars[] = {
        {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", 1},
        {"PMI_RANK", "PMI_SIZE", 1},
        {"PMIX_RANK", NULL, 1},
        {"SLURM_PROCID", "SLURM_NTASKS", 0},
    };
    milnce_launcher l = {-1, -1, 0};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *r = getenv(vars[i].rank), *n = vars[i].size ? getenv(vars[i].size) : NULL;
        if (r && *r && l.rank < 0) l.rank = atoi(r);
        if (n && *n && l.world < 0) l.world = atoi(n);
        if (((r && *r) || (n && *n)) && vars[i].mpi) l.mpi = 1;
    }
    return l;
}

#ifdef MILNCE_HAVE_MPI
#include <mpi.h>
#include <limits.h>

int milnce_dist_init(milnce_dist *d, int *argc, char ***argv, milnce_error *err) {
    memset(d, 0, sizeof *d);
    d->world = 1;
    if (!milnce_launcher_detect().mpi) return 0;
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init(argc, argv) != MPI_SUCCESS)
        return milnce_error_set(err, MILNCE_ERR_IO, "MPI_Init failed");
    d->mpi = !inited;
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->world);
    return 0;
}

void milnce_dist_finalize(milnce_dist *d) {
    if (d->mpi) MPI_Finalize();
    d->mpi = 0;
}

/* MPI counts are int: large buffers go in pieces. */
#define CHUNK ((size_t)1 << 28)

static int check(int rc, const char *what, milnce_error *err) {
    return rc == MPI_SUCCESS ? 0 : milnce_error_set(err, MILNCE_ERR_IO, "%s failed (MPI error %d)", what, rc);
}

int milnce_dist_allgather_f32(const milnce_dist *d, const float *in, float *out, size_t n, milnce_error *err) {
    if (d->world == 1) { memmove(out, in, n * sizeof *in); return 0; }
    if (n > INT_MAX) return milnce_error_set(err, MILNCE_ERR_RANGE, "allgather of %zu floats", n);
    return check(MPI_Allgather(in, (int)n, MPI_FLOAT, out, (int)n, MPI_FLOAT, MPI_COMM_WORLD), "MPI_Allgather", err);
}

int milnce_dist_allgather_u8(const milnce_dist *d, const uint8_t *in, uint8_t *out, size_t n, milnce_error *err) {
    if (d->world == 1) { memmove(out, in, n); return 0; }
    if (n > INT_MAX) return milnce_error_set(err, MILNCE_ERR_RANGE, "allgather of %zu bytes", n);
    return check(MPI_Allgather(in, (int)n, MPI_BYTE, out, (int)n, MPI_BYTE, MPI_COMM_WORLD), "MPI_Allgather", err);
}

int milnce_dist_allreduce_sum_f32(const milnce_dist *d, float *buf, size_t n, milnce_error *err) {
    if (d->world == 1) return 0;
    for (size_t o = 0; o < n; o += CHUNK) {
        size_t c = n - o < CHUNK ? n - o : CHUNK;
        int ret = check(MPI_Allreduce(MPI_IN_PLACE, buf + o, (int)c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce", err);
        if (ret < 0) return ret;
    }
    return 0;
}

int milnce_dist_allreduce_sum_f64(const milnce_dist *d, double *buf, size_t n, milnce_error *err) {
    if (d->world == 1) return 0;
    return check(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce", err);
}

int milnce_dist_bcast_f32(const milnce_dist *d, float *buf, size_t n, milnce_error *err) {
    if (d->world == 1) return 0;
    for (size_t o = 0; o < n; o += CHUNK) {
        size_t c = n - o < CHUNK ? n - o : CHUNK;
        int ret = check(MPI_Bcast(buf + o, (int)c, MPI_FLOAT, 0, MPI_COMM_WORLD), "MPI_Bcast", err);
        if (ret < 0) return ret;
    }
    return 0;
}

int milnce_dist_barrier(const milnce_dist *d) {
    return d->world == 1 ? 0 : (MPI_Barrier(MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : MILNCE_ERR_IO);
}

#else

int milnce_dist_init(milnce_dist *d, int *argc, char ***argv, milnce_error *err) {
    (void)argc; (void)argv; (void)err;
    memset(d, 0, sizeof *d);
    d->world = 1;
    return 0;
}
void milnce_dist_finalize(milnce_dist *d) { (void)d; }
int milnce_dist_allgather_f32(const milnce_dist *d, const float *in, float *out, size_t n, milnce_error *err) {
    (void)d; (void)err; memmove(out, in, n * sizeof *in); return 0;
}
int milnce_dist_allgather_u8(const milnce_dist *d, const uint8_t *in, uint8_t *out, size_t n, milnce_error *err) {
    (void)d; (void)err; memmove(out, in, n); return 0;
}
int milnce_dist_allreduce_sum_f32(const milnce_dist *d, float *buf, size_t n, milnce_error *err) { (void)d; (void)buf; (void)n; (void)err; return 0; }
int milnce_dist_allreduce_sum_f64(const milnce_dist *d, double *buf, size_t n, milnce_error *err) { (void)d; (void)buf; (void)n; (void)err; return 0; }
int milnce_dist_bcast_f32(const milnce_dist *d, float *buf, size_t n, milnce_error *err) { (void)d; (void)buf; (void)n; (void)err; return 0; }
int milnce_dist_barrier(const milnce_dist *d) { (void)d; return 0; }

#endif
