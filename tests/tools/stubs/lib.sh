# Shared by the stub commands of tests/tools/run.sh: every stub appends
# its argv to $STUB_DIR/log and keeps whatever state it needs in
# $STUB_DIR (interfaces, routes, wg configurations, resolvconf records).
# Canned facts come from the environment:
#   STUB_GW4, STUB_GW6   default gateways ("none": no default route)
#   STUB_MTU_em0/em1     MTUs of the physical interfaces (1500/9000)
#   STUB_VIA_EM1         addresses whose route goes through em1
#   STUB_KLD             modules already loaded (kldstat -m)
#   STUB_FAIL            a command line prefix that fails ("wg setconf")
# shellcheck shell=sh

S=${STUB_DIR:?STUB_DIR is not set}
mkdir -p "${S}/if" "${S}/wg"
touch "${S}/routes"

stub_log()
{
	printf '%s\n' "$*" >> "${S}/log"
	case "$*" in
	"${STUB_FAIL:-@@none@@}"*)
		echo "$1: stubbed failure" >&2
		exit 1 ;;
	esac
}

if_exists()
{
	case "$1" in
	em0|em1|lo0) return 0 ;;
	esac
	[ -f "${S}/if/$1" ]
}

kld_loaded()
{
	case " ${STUB_KLD:-} $(cat "${S}/kld" 2>/dev/null) " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}
