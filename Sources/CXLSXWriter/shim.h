// Umbrella header for the libxlsxwriter system library (Debian: libxlsxwriter-dev).
#ifndef STOCKFLOW_CXLSXWRITER_SHIM_H
#define STOCKFLOW_CXLSXWRITER_SHIM_H

#include <xlsxwriter.h>

#endif
