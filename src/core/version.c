#include "synlaw/version.h"

#include <gsl/gsl_version.h>
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* From OpenBLAS's cblas.h; declared here so the header choice stays with nn.c. */
char *openblas_get_config(void);
void openblas_set_num_threads(int num_threads);

const char *version_synlaw(void) { return SYNLAW_VERSION; }

void version_hdf5(char *buf, size_t len)
{
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    snprintf(buf, len, "%u.%u.%u (parallel)", maj, min, rel);
}

void version_mpi(char *buf, size_t len)
{
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int n = 0;
    MPI_Get_library_version(lib, &n);
    lib[n < MPI_MAX_LIBRARY_VERSION_STRING ? n : MPI_MAX_LIBRARY_VERSION_STRING - 1] = '\0';
    char *nl = strpbrk(lib, ",\n");
    if (nl)
        *nl = '\0';
    snprintf(buf, len, "%s", lib);
}

const char *version_openblas(void) { return openblas_get_config(); }
const char *version_gsl(void) { return gsl_version; }

void version_blas_threads_default(void)
{
    if (!getenv("OPENBLAS_NUM_THREADS"))
        openblas_set_num_threads(1);
}
