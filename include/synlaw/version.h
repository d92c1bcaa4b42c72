/* Versions of synlaw and of the libraries it runs on, for --version and the results file. */
#ifndef SYNLAW_VERSION_H
#define SYNLAW_VERSION_H

#include <stddef.h>

const char *version_synlaw(void);
void version_hdf5(char *buf, size_t len);
void version_mpi(char *buf, size_t len);   /* first line of MPI_Get_library_version */
const char *version_openblas(void);        /* openblas_get_config() */
const char *version_gsl(void);
/* Restrict OpenBLAS to one thread unless OPENBLAS_NUM_THREADS asks otherwise: ranks, not
 * threads, are synlaw's parallelism. */
void version_blas_threads_default(void);

#endif
