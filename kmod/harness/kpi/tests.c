/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * In-process tests of the module through the model (kharness test NAME).
 */
#include "kh.h"

int	kh_test_main(const char *name);

int
kh_test_main(const char *name)
{

	kh_log("unknown test %s", name);
	return (2);
}
