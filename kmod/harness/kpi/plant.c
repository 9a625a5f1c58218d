/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Planted contract violations (kharness plant NAME).
 */
#include "kh.h"

int	kh_plant_main(const char *name);

int
kh_plant_main(const char *name)
{

	kh_log("unknown plant %s", name);
	return (2);
}
