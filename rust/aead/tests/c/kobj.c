/*
 * Runs the kernel's vector object (the libwg_aead.a kbuild/build-kernel-lib.sh
 * builds for x86_64-ifwg-kernel-simd.json) in userspace: reads lines of hex
 * "key nonce aad plaintext cut" on stdin, seals the plaintext in two pieces
 * cut at `cut` bytes, and prints "ciphertext tag" in hex.  Linked -no-pie,
 * as kharness links the kernel library: the kernel code model's 32-bit
 * absolute addresses then resolve below 2 GiB.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct seg {
	uint8_t	*ptr;
	size_t	 len;
};

int	wg_aead_simd_seal(const uint8_t *, const uint8_t *, const uint8_t *,
	    size_t, const struct seg *, size_t, uint8_t *);
void	wg_host_panic(const char *, size_t);

void
wg_host_panic(const char *msg, size_t len)
{

	fprintf(stderr, "panic: %.*s\n", (int)len, msg);
	abort();
}

static size_t
unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n;
	unsigned int b;

	for (n = 0; n < max && s[2 * n] != '\0' && s[2 * n + 1] != '\0'; n++) {
		if (sscanf(s + 2 * n, "%2x", &b) != 1)
			break;
		out[n] = (uint8_t)b;
	}
	return (n);
}

static void
puthex(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%02x", p[i]);
}

int
main(void)
{
	static char line[20000];
	static uint8_t pt[4096];
	char k[80], nc[40], a[300], m[9000];
	uint8_t key[32], nonce[12], aad[128], tag[16];
	struct seg segs[2];
	size_t alen, len, cut;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		/* "-" stands for an empty field. */
		if (sscanf(line, "%79s %39s %299s %8999s %zu", k, nc, a, m,
		    &cut) != 5)
			return (2);
		if (unhex(k, key, 32) != 32 || unhex(nc, nonce, 12) != 12)
			return (2);
		alen = strcmp(a, "-") == 0 ? 0 : unhex(a, aad, sizeof(aad));
		len = strcmp(m, "-") == 0 ? 0 : unhex(m, pt, sizeof(pt));
		if (cut > len)
			cut = len;
		segs[0].ptr = pt;
		segs[0].len = cut;
		segs[1].ptr = pt + cut;
		segs[1].len = len - cut;
		if (wg_aead_simd_seal(key, nonce, aad, alen, segs, 2, tag) != 0)
			return (3);
		puthex(pt, len);
		printf(" ");
		puthex(tag, 16);
		printf("\n");
	}
	return (0);
}
