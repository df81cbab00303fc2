// libpng's simplified and full APIs (Debian: libpng-dev).
#include <png.h>
