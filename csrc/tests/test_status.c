#include <string.h>
#include "../edgert.h"
#include "ctest.h"

int main(void)
{
    CHECK(strcmp(edgert_strerror(EDGERT_OK), "ok") == 0);
    CHECK(strcmp(edgert_strerror(EDGERT_ERR_MASKED_ALL), "Cutoff frequency masked all FFT bins") == 0);
    CHECK(edgert_strerror(12345) != NULL);
    CHECK(strlen(edgert_version()) > 0);
    CTEST_END();
}
