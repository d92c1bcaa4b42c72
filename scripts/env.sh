# Environment shared by scripts/demo and scripts/test (sourced, not run).
# One OpenBLAS thread per rank: ranks are synlaw's parallelism.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
if [ "$(id -u)" = 0 ]; then
  # Open MPI refuses to run as root without these (CI and containers run as root).
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
