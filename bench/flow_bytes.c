/*
 * flow_bytes.c: print flow_slot_bytes(), the flow table's memory per flow
 * (struct flow and its bucket), for bench/run's memory table.
 */
#include <stdio.h>

#include "flow/flow.h"

int main(void)
{
	printf("%zu\n", flow_slot_bytes());
	return 0;
}
