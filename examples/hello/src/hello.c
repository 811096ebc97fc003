#include <stdio.h>

int main(void)
{
	puts("Hello from opkfarm!");
	return 0;
}
