/* omnibusd: placeholder until the runtime lands. */
#include <stdio.h>
int main(void)
{
    puts("omnibusd");
    return 0;
}
