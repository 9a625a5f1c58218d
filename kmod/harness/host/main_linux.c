/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * The program's entry, in the Linux header world: the model (kpi/) is a
 * relocatable object whose only global is kh_main.
 */
int	kh_main(int argc, char **argv);

int
main(int argc, char **argv)
{

	return (kh_main(argc, argv));
}
