# Run by the locker disk helper (lockerdisk.go) as root with CAP_SYS_ADMIN
# and CAP_MKNOD, access to /dev/loop-control and the loop block devices
# (major 7), and the locker's disk volume bound at /disk with shared
# propagation, so that its mount reaches the Docker host.
#
#   attach MB  make /disk/locker.img (an ext4 file system with MB MiB
#              usable) unless it exists (MB 0: it must exist), attach it
#              to a loop device unless one holds it, check it and mount it
#              at /disk/mnt; then make /disk/mnt/workspace, the directory
#              sandboxes see. Does nothing when /disk/mnt is a mount point
#              already.
#   detach     unmount /disk/mnt and free the loop device holding
#              locker.img.
#   delete     mark the disk deleted, so that no later attach mounts it
#              again (RestoreVolumes racing a DeleteVolume), and detach.
#
# attach of a disk marked deleted exits with 3.
#
# /disk/mnt/workspace exists only on the mounted file system: while the
# image is not mounted (after a reboot) the bind behind the locker's volume
# fails instead of writing to the host's disk without limit.
set -eu
op=$1
cd /disk
# Two helpers of one locker (concurrent creates) take turns.
exec 9>.lock
flock 9

# loopdev records "<boot id> <device>" of the loop device holding
# locker.img. A record of an earlier boot names nothing: loop devices do
# not survive a reboot. Looking the device up this way costs the same with
# one locker or thousands, where losetup -j opens every loop device.
boot=$(cat /proc/sys/kernel/random/boot_id)

# node makes the device node of /dev/loopN: the container's /dev is its own
# tmpfs, without the host's loop devices.
node() { [ -b "$1" ] || mknod "$1" b 7 "${1#/dev/loop}"; }

# held prints the recorded loop device if it holds locker.img now (same
# backing device and inode), and nothing otherwise.
held() {
	[ -f loopdev ] || return 0
	read -r rboot rdev <loopdev || return 0
	[ "$rboot" = "$boot" ] && [ -e "/sys/block/${rdev#/dev/}" ] || return 0
	node "$rdev"
	back=$(losetup -n -O BACK-MAJ:MIN,BACK-INO "$rdev" 2>/dev/null) || return 0
	# shellcheck disable=SC2086 # split into fields on purpose
	set -- $back
	[ "$#" -eq 2 ] && [ "$1 $2" = "$(stat -c '%Hd:%Ld %i' locker.img)" ] && echo "$rdev"
	return 0
}

detach() {
	if mountpoint -q mnt; then umount mnt; fi
	dev=$(held)
	if [ -n "$dev" ]; then losetup -d "$dev"; fi
	rm -f loopdev
}

case $op in
attach)
	want=$(($2 * 1048576))
	if [ -e .deleted ]; then
		echo "the locker is being deleted" >&2
		exit 3
	fi
	mkdir -p mnt
	if mountpoint -q mnt; then exit 0; fi
	if [ ! -e locker.img ]; then
		if [ "$want" -eq 0 ]; then
			echo "locker.img is missing from the locker's disk volume" >&2
			exit 1
		fi
		# The file system's own metadata (inode tables, journal) and the
		# blocks ext4 keeps back for delayed allocation (2%, at most
		# 4096) are not usable: grow the sparse image until what is
		# usable reaches the limit. One or two rounds do.
		size=$want
		for _ in 1 2 3 4 5; do
			rm -f new.img
			truncate -s "$size" new.img
			mkfs.ext4 -q -m 0 -L bay-locker new.img
			avail=$(dumpe2fs -h new.img 2>/dev/null | awk -F: '
				/^Block count/ {c = $2} /^Free blocks/ {f = $2} /^Block size/ {b = $2}
				END {r = int(c / 50); if (r > 4096) r = 4096; printf "%d", (f - r) * b}')
			[ "$avail" -ge "$want" ] && break
			size=$(((size + want - avail + 1048575) / 1048576 * 1048576))
		done
		mv new.img locker.img
	fi
	dev=$(held)
	tries=0
	while [ -z "$dev" ]; do
		# losetup -f names the first free device, creating it if need
		# be; a concurrent helper may take it first (EBUSY): try again.
		# Direct I/O keeps the image's blocks out of the host's page cache
		# (they are cached once, above, in the locker's file system) and
		# writes faster; where the host's file system refuses it, losetup
		# warns and the device works buffered.
		free=$(losetup -f)
		node "$free"
		if losetup --direct-io=on "$free" locker.img 2>/tmp/losetup.err; then
			dev=$free
			echo "$boot $dev" >loopdev
		else
			tries=$((tries + 1))
			[ "$tries" -lt 20 ] || { cat /tmp/losetup.err >&2; exit 1; }
		fi
	done
	# Replays the journal and fixes what -p may fix after a crash; 4 and
	# above means it needs a human.
	rc=0
	e2fsck -p "$dev" >/tmp/fsck.out 2>&1 || rc=$?
	if [ "$rc" -ge 4 ]; then
		cat /tmp/fsck.out >&2
		losetup -d "$dev"
		rm -f loopdev
		exit 1
	fi
	# discard: deleting files punches holes in the image, so the host gets
	# the space back as well.
	mount -t ext4 -o nosuid,nodev,discard,errors=remount-ro "$dev" mnt
	mkdir -p mnt/workspace
	;;
detach)
	detach
	;;
delete)
	: >.deleted
	detach
	;;
*)
	echo "unknown operation $op" >&2
	exit 2
	;;
esac
