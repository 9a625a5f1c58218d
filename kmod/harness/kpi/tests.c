/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * In-process tests of the module through the model (kharness test NAME).
 */
#include "kh.h"

int	kh_test_main(const char *name);
int	kh_test_defect(const char *name);

/* Tests of the defects fixed in the shim (t_defects.c), when linked. */
__weak_symbol int
kh_test_defect(const char *name)
{

	kh_log("unknown test defect-%s", name);
	return (2);
}

int
kh_test_main(const char *name)
{

	if (strncmp(name, "defect-", 7) == 0)
		return (kh_test_defect(name + 7));
	kh_log("unknown test %s", name);
	return (2);
}
