/* Readers for the Multiboot v1 information block the loader handed over in EBX, and
 * key=value lookups in its command line. */
#include "multiboot.h"

#include "guest.h"

const struct multiboot_info *mb_info(void)
{
	if (entry_state.eax != MULTIBOOT_BOOTLOADER_MAGIC)
		return NULL;
	return (const struct multiboot_info *)(uintptr_t)entry_state.ebx;
}

const char *mb_cmdline(void)
{
	const struct multiboot_info *mbi = mb_info();

	if (!mbi || !(mbi->flags & MBI_CMDLINE) || !mbi->cmdline)
		return "";
	return (const char *)(uintptr_t)mbi->cmdline;
}

const struct multiboot_mmap_entry *mb_mmap_next(const struct multiboot_mmap_entry *prev)
{
	const struct multiboot_info *mbi = mb_info();
	uintptr_t start, end, next;

	if (!mbi || !(mbi->flags & MBI_MMAP))
		return NULL;
	start = mbi->mmap_addr;
	end = start + mbi->mmap_length;
	next = prev ? (uintptr_t)prev + prev->size + 4 : start;
	if (next + sizeof(struct multiboot_mmap_entry) > end)
		return NULL;
	return (const struct multiboot_mmap_entry *)next;
}

unsigned mb_module_count(void)
{
	const struct multiboot_info *mbi = mb_info();

	return mbi && (mbi->flags & MBI_MODS) ? mbi->mods_count : 0;
}

const struct multiboot_mod *mb_module(unsigned i)
{
	const struct multiboot_info *mbi = mb_info();

	if (i >= mb_module_count())
		return NULL;
	return (const struct multiboot_mod *)(uintptr_t)mbi->mods_addr + i;
}

/* Finds token "key" or "key=..."; returns a pointer just past the key, or NULL. */
static const char *find_key(const char *key)
{
	size_t klen = strlen(key);
	const char *p = mb_cmdline();

	while (*p) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, klen) && (p[klen] == '=' || p[klen] == ' ' || !p[klen]))
			return p + klen;
		while (*p && *p != ' ')
			p++;
	}
	return NULL;
}

bool cmdline_flag(const char *key)
{
	return find_key(key) != NULL;
}

bool cmdline_value(const char *key, char *out, size_t size)
{
	const char *v = find_key(key);
	size_t n = 0;

	if (!v || *v != '=')
		return false;
	for (v++; v[n] && v[n] != ' '; n++)
		;
	if (size) {
		if (n >= size)
			n = size - 1;
		memcpy(out, v, n);
		out[n] = '\0';
	}
	return true;
}

long cmdline_int(const char *key, long dflt)
{
	char buf[24], *p = buf;
	unsigned base = 10;
	long v = 0;

	if (!cmdline_value(key, buf, sizeof(buf)) || !*buf)
		return dflt;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (; *p; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && (*p | 0x20) >= 'a' && (*p | 0x20) <= 'f')
			d = (unsigned)((*p | 0x20) - 'a' + 10);
		else
			return dflt;
		v = v * (long)base + (long)d;
	}
	return v;
}
