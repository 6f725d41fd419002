/* The VMState-style baseline's entry points for the bench states (vms_tables.c). */
#ifndef BENCH_VMS_TABLES_H
#define BENCH_VMS_TABLES_H

#include "bench_states.h"
#include "vms.h"

bool vms_save_ScalarHeavy(const ScalarHeavy *s, VmsChannel *out);
bool vms_load_ScalarHeavy(ScalarHeavy *s, const uint8_t *buf, size_t len);
bool vms_save_BufferHeavy(const BufferHeavy *s, VmsChannel *out);
bool vms_load_BufferHeavy(BufferHeavy *s, const uint8_t *buf, size_t len);
bool vms_save_RingHeavy(const RingHeavy *s, VmsChannel *out);
bool vms_load_RingHeavy(RingHeavy *s, const uint8_t *buf, size_t len);

#endif
