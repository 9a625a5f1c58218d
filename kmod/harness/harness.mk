# Included by the top Makefile (GNU make): kharness, the userspace
# FreeBSD-KPI harness that runs kmod/if_wg.c unchanged (kmod/harness/).
# Needs kbuild/kbuild.mk first (KERNEL_LIB, kernel-lib).
#
#   make kharness        target/kharness/asan/kharness (ASan+UBSan) and
#                        kharness-uapi; kmod/harness/kharness links to it
#   make kharness-tsan   target/kharness/tsan/kharness (ThreadSanitizer)
#   make kharness-fuzz   target/kharness/fuzz/fuzz-ioctl (libFuzzer: SIOCSWG
#                        and SIOCGWG through wg_ioctl); FUZZ_SECONDS of it
#   make kharness-test   the harness's own tests, the module's tests in
#                        it, and the seed network with it (netns)

KHARNESS_OUT ?= target/kharness

.PHONY: kharness kharness-tsan kharness-fuzz kharness-fuzz-build kharness-test

kharness: kernel-lib
	sh kmod/harness/build.sh $(KHARNESS_OUT)/asan $(KERNEL_LIB) asan
	ln -sf ../../$(KHARNESS_OUT)/asan/kharness kmod/harness/kharness
	$(CARGO) build --release -p kharness-uapi -p wgd -p wg-tool

kharness-tsan: kernel-lib
	sh kmod/harness/build.sh $(KHARNESS_OUT)/tsan $(KERNEL_LIB) tsan

kharness-fuzz-build: kernel-lib
	sh kmod/harness/build.sh $(KHARNESS_OUT)/fuzz $(KERNEL_LIB) fuzz

kharness-fuzz: kharness-fuzz-build
	@sh kmod/harness/tests/fuzz.sh $(FUZZ_SECONDS)

kharness-test: kharness kharness-tsan kharness-fuzz-build
	@sh kmod/harness/tests/run.sh
