/* An interrupt line a device raises, without knowing what is behind it (the in-kernel irqchip in
 * the VMM, a recorder in unit tests). */
#ifndef HVKVM_IRQ_H
#define HVKVM_IRQ_H

#include <stdbool.h>

struct irq_line {
	void (*set_level)(void *ctx, unsigned gsi, bool level);
	void *ctx;
	unsigned gsi;
};

static inline void irq_line_set(const struct irq_line *line, bool level)
{
	if (line->set_level)
		line->set_level(line->ctx, line->gsi, level);
}

#endif
