/* The Hyper-V synthetic SCSI (storvsc/storvsp) wire protocol: vstor_packet and its payloads, names
 * as Linux drivers/scsi/storvsc_drv.c spells them; version sizes and NT statuses as openvmm's
 * storvsp_protocol. Guest-controlled fields stay plain integers, never closed enums. */
#ifndef HVKVM_SYNTHETIC_STORVSP_PROTOCOL_H
#define HVKVM_SYNTHETIC_STORVSP_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "vmbus/protocol.h"

/* Class of the synthetic SCSI controller: {ba6163d9-04a1-4d29-b605-72e2ffb1dc7f}. */
#define HV_SCSI_GUID \
	VMBUS_GUID(0xba6163d9, 0x04a1, 0x4d29, 0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f)

/* Protocol versions, major << 8 | minor. */
#define VMSTOR_PROTO_VERSION(major, minor) ((uint16_t)((((major) & 0xff) << 8) | ((minor) & 0xff)))
#define VMSTOR_PROTO_VERSION_WIN6 VMSTOR_PROTO_VERSION(2, 0)   /* Windows Server 2008 */
#define VMSTOR_PROTO_VERSION_WIN7 VMSTOR_PROTO_VERSION(4, 2)   /* 2008 R2 */
#define VMSTOR_PROTO_VERSION_WIN8 VMSTOR_PROTO_VERSION(5, 1)   /* 2012 */
#define VMSTOR_PROTO_VERSION_WIN8_1 VMSTOR_PROTO_VERSION(6, 0) /* 2012 R2 */
#define VMSTOR_PROTO_VERSION_WIN10 VMSTOR_PROTO_VERSION(6, 2)  /* 2016 */

/* enum vstor_packet_operation */
#define VSTOR_OPERATION_COMPLETE_IO 1
#define VSTOR_OPERATION_REMOVE_DEVICE 2
#define VSTOR_OPERATION_EXECUTE_SRB 3
#define VSTOR_OPERATION_RESET_LUN 4
#define VSTOR_OPERATION_RESET_ADAPTER 5
#define VSTOR_OPERATION_RESET_BUS 6
#define VSTOR_OPERATION_BEGIN_INITIALIZATION 7
#define VSTOR_OPERATION_END_INITIALIZATION 8
#define VSTOR_OPERATION_QUERY_PROTOCOL_VERSION 9
#define VSTOR_OPERATION_QUERY_PROPERTIES 10
#define VSTOR_OPERATION_ENUMERATE_BUS 11
#define VSTOR_OPERATION_FCHBA_DATA 12
#define VSTOR_OPERATION_CREATE_SUB_CHANNELS 13

/* vstor_packet.flags: the client wants a completion (Linux always sets it). */
#define REQUEST_COMPLETION_FLAG 0x1

/* vstor_packet.status: NT status codes. */
#define NT_STATUS_SUCCESS 0x00000000u
#define NT_STATUS_BUFFER_OVERFLOW 0x80000005u
#define NT_STATUS_DEVICE_BUSY 0x80000011u
#define NT_STATUS_UNSUCCESSFUL 0xC0000001u
#define NT_STATUS_INVALID_PARAMETER 0xC000000Du
#define NT_STATUS_INVALID_DEVICE_REQUEST 0xC0000010u
#define NT_STATUS_REVISION_MISMATCH 0xC0000059u
#define NT_STATUS_DEVICE_NOT_CONNECTED 0xC000009Du
#define NT_STATUS_IO_TIMEOUT 0xC00000B5u
#define NT_STATUS_DEVICE_DOES_NOT_EXIST 0xC00000C0u
#define NT_STATUS_CANCELLED 0xC0000120u
#define NT_STATUS_INVALID_DEVICE_STATE 0xC0000184u
#define NT_STATUS_IO_DEVICE_ERROR 0xC0000185u

/* vmscsi_request.srb_status: a 6-bit code and two flag bits (Windows srb.h). */
#define SRB_STATUS_PENDING 0x00
#define SRB_STATUS_SUCCESS 0x01
#define SRB_STATUS_ABORTED 0x02
#define SRB_STATUS_ERROR 0x04
#define SRB_STATUS_BUSY 0x05
#define SRB_STATUS_INVALID_REQUEST 0x06
#define SRB_STATUS_INVALID_PATH_ID 0x07
#define SRB_STATUS_NO_DEVICE 0x08
#define SRB_STATUS_SELECTION_TIMEOUT 0x0A
#define SRB_STATUS_DATA_OVERRUN 0x12
#define SRB_STATUS_INVALID_LUN 0x20
#define SRB_STATUS_INVALID_TARGET_ID 0x21
#define SRB_STATUS_INTERNAL_ERROR 0x30
#define SRB_STATUS_QUEUE_FROZEN 0x40
#define SRB_STATUS_AUTOSENSE_VALID 0x80
#define SRB_STATUS(s) ((s) & ~(SRB_STATUS_AUTOSENSE_VALID | SRB_STATUS_QUEUE_FROZEN))

/* vmscsi_win8_extension.srb_flags (the ones Linux sets). */
#define SRB_FLAGS_QUEUE_ACTION_ENABLE 0x00000002
#define SRB_FLAGS_DISABLE_SYNCH_TRANSFER 0x00000008
#define SRB_FLAGS_DISABLE_AUTOSENSE 0x00000020
#define SRB_FLAGS_DATA_IN 0x00000040
#define SRB_FLAGS_DATA_OUT 0x00000080
#define SRB_FLAGS_NO_DATA_TRANSFER 0x00000000
#define SRB_FLAGS_NO_QUEUE_FREEZE 0x00000100

/* vmscsi_request.data_in (Linux enum storvsc_request_type: WRITE_TYPE, READ_TYPE, UNKNOWN_TYPE). */
#define SCSI_IOCTL_DATA_OUT 0
#define SCSI_IOCTL_DATA_IN 1
#define SCSI_IOCTL_DATA_UNSPECIFIED 2

#define STORVSC_MAX_CMD_LEN 0x10
#define STORVSC_SENSE_BUFFER_SIZE 0x14         /* from Windows 8 on */
#define PRE_WIN8_STORVSC_SENSE_BUFFER_SIZE 0x12
#define STORVSC_MAX_BUF_LEN_WITH_PADDING 0x14

/* Added in Windows 8 (protocol 5.1): a pre-win8 vmscsi_request ends before it. */
struct vmscsi_win8_extension {
	uint16_t reserve;
	uint8_t queue_tag;
	uint8_t queue_action;
	uint32_t srb_flags;
	uint32_t time_out_value;
	uint32_t queue_sort_ey;    /* sic, as Linux spells it */
} __attribute__((packed));
_Static_assert(sizeof(struct vmscsi_win8_extension) == 16, "vmscsi_win8_extension");

/* One SCSI command (patterned on Windows' SCSI_PASS_THROUGH). In the completion the cdb area
 * carries the sense data. */
struct vmscsi_request {
	uint16_t length;
	uint8_t srb_status;
	uint8_t scsi_status;
	uint8_t port_number;
	uint8_t path_id;
	uint8_t target_id;
	uint8_t lun;
	uint8_t cdb_length;
	uint8_t sense_info_length;
	uint8_t data_in;
	uint8_t reserved;
	uint32_t data_transfer_length;
	union {
		uint8_t cdb[STORVSC_MAX_CMD_LEN];
		uint8_t sense_data[STORVSC_SENSE_BUFFER_SIZE];
		uint8_t reserved_array[STORVSC_MAX_BUF_LEN_WITH_PADDING];
	};
	struct vmscsi_win8_extension win8_extension;
} __attribute__((packed));
_Static_assert(offsetof(struct vmscsi_request, data_transfer_length) == 12, "data_transfer_length");
_Static_assert(offsetof(struct vmscsi_request, cdb) == 16, "cdb");
_Static_assert(offsetof(struct vmscsi_request, win8_extension) == 0x24, "win8_extension");
_Static_assert(sizeof(struct vmscsi_request) == 0x34, "vmscsi_request");

/* What Linux's vmscsi_size_delta removes for pre-win8 hosts. */
#define VMSCSI_REQUEST_SIZE_PRE_WIN8 ((uint32_t)offsetof(struct vmscsi_request, win8_extension))
#define VMSCSI_REQUEST_SIZE_WIN8 ((uint32_t)sizeof(struct vmscsi_request))

/* QUERY_PROPERTIES answer. max_channel_cnt: subchannels the guest may ask for. */
#define STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL 0x1
struct vmstorage_channel_properties {
	uint32_t reserved;
	uint16_t max_channel_cnt;
	uint16_t reserved1;
	uint32_t flags;
	uint32_t max_transfer_bytes;
	uint64_t reserved2;
} __attribute__((packed));
_Static_assert(sizeof(struct vmstorage_channel_properties) == 24, "vmstorage_channel_properties");

/* Channel property flags of the offer (IDE accelerator channels), unused on a SCSI controller. */
#define STORAGE_CHANNEL_REMOVABLE_FLAG 0x1
#define STORAGE_CHANNEL_EMULATED_IDE_FLAG 0x2

struct vmstorage_protocol_version {
	uint16_t major_minor;
	uint16_t revision;         /* Windows build bookkeeping; 0 from Linux */
} __attribute__((packed));
_Static_assert(sizeof(struct vmstorage_protocol_version) == 4, "vmstorage_protocol_version");

/* FCHBA_DATA payload (synthetic Fibre Channel only). */
struct hv_fc_wwn_packet {
	uint8_t primary_active;
	uint8_t reserved1[3];
	uint8_t primary_port_wwn[8];
	uint8_t primary_node_wwn[8];
	uint8_t secondary_port_wwn[8];
	uint8_t secondary_node_wwn[8];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_fc_wwn_packet) == 36, "hv_fc_wwn_packet");

struct vstor_packet {
	uint32_t operation;        /* VSTOR_OPERATION_* */
	uint32_t flags;            /* REQUEST_COMPLETION_FLAG */
	uint32_t status;           /* NT_STATUS_*, host -> guest */
	union {
		struct vmscsi_request vm_srb;
		struct vmstorage_channel_properties storage_channel_properties;
		struct vmstorage_protocol_version version;
		struct hv_fc_wwn_packet wwn_packet;
		uint16_t sub_channel_count;
		uint8_t buffer[0x34];
	};
} __attribute__((packed));
_Static_assert(offsetof(struct vstor_packet, vm_srb) == 12, "vstor_packet header");
_Static_assert(sizeof(struct vstor_packet) == 64, "vstor_packet");

#define VSTOR_PACKET_HEADER_SIZE ((uint32_t)offsetof(struct vstor_packet, vm_srb))
#define VSTOR_PACKET_MAX_SIZE ((uint32_t)sizeof(struct vstor_packet))

#endif
