/* Data parallelism over MPI, reduced to what training needs. Without MPI in the build, or when
 * the process was not started by an MPI launcher, everything runs as rank 0 of 1 and the
 * collectives are copies. */
#ifndef MILNCE_DIST_H
#define MILNCE_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct milnce_dist {
    int rank, world;
    int mpi; /* 1 when MPI was initialised here (and must be finalised) */
} milnce_dist;

/* What the process launcher says about this process, from its environment: one table of the
 * variables of Open MPI's mpirun (OMPI_COMM_WORLD_RANK/SIZE), MPICH/Hydra and Slurm's PMI-2
 * (PMI_RANK/SIZE), PMIx (PMIX_RANK; no size variable) and Slurm's srun (SLURM_PROCID/NTASKS).
 * rank and world are -1 where no variable gives them; mpi is 1 when an MPI launcher's variables
 * are present (MPI_Init will find its peers), 0 for srun alone. */
typedef struct milnce_launcher {
    int rank, world;
    int mpi;
} milnce_launcher;
milnce_launcher milnce_launcher_detect(void);

/* Initialises MPI when built with it and launched by an MPI launcher (milnce_launcher_detect's
 * mpi); else rank 0 of 1. */
int milnce_dist_init(milnce_dist *d, int *argc, char ***argv, milnce_error *err);
void milnce_dist_finalize(milnce_dist *d);

/* out (world * n) = the n floats of every rank, in rank order. */
int milnce_dist_allgather_f32(const milnce_dist *d, const float *in, float *out, size_t n, milnce_error *err);
int milnce_dist_allgather_u8(const milnce_dist *d, const uint8_t *in, uint8_t *out, size_t n, milnce_error *err);
/* buf (n) = sum over ranks, in place. */
int milnce_dist_allreduce_sum_f32(const milnce_dist *d, float *buf, size_t n, milnce_error *err);
int milnce_dist_allreduce_sum_f64(const milnce_dist *d, double *buf, size_t n, milnce_error *err);
/* buf (n floats) from rank 0 to all. */
int milnce_dist_bcast_f32(const milnce_dist *d, float *buf, size_t n, milnce_error *err);
int milnce_dist_barrier(const milnce_dist *d);

#endif
