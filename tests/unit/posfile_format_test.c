/* Unit test: connectors/pos-file (the format library). */
#include "pf_format.h"
#include "testlib.h"

int main(void)
{
    return test_result();
}
