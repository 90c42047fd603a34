#pragma once
// linux/ublk_cmd.h uses _IOR/_IOWR without including their definitions.
#include <sys/ioctl.h>
#include <linux/ublk_cmd.h>
