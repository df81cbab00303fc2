// OpenBLAS's CBLAS interface plus its thread-count controls (openblas_set_num_threads).
// Debian's libopenblas-dev installs cblas.h into the multiarch include directory.
#include <cblas.h>
