#pragma once
// linux/ublk_cmd.h uses _IOR/_IOWR without including their definitions.
#include <sys/ioctl.h>
#include <linux/ublk_cmd.h>

// Newer than the 6.12 uapi header this is built against; values from 6.16+.
#ifndef UBLK_F_AUTO_BUF_REG
#define UBLK_F_AUTO_BUF_REG (1ULL << 11)
#endif
