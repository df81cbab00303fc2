// libjpeg(-turbo) decompression API (Debian: libjpeg-dev). jpeglib.h needs stdio.h first.
#include <stdio.h>
#include <stddef.h>
#include <jpeglib.h>
