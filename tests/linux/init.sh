#!/bin/busybox sh
# tests/linux/init.sh: /init of the end-to-end test's initramfs (busybox, the two modules, the
# client). Every line it prints starts with "teemm-init:"; it always ends with a power-off through
# PSCI SYSTEM_OFF, so the secure world prints its final report.
/bin/busybox mkdir -p /dev /proc /sys /tmp
/bin/busybox mount -t devtmpfs devtmpfs /dev
# The kernel found no /dev/console in the archive (it is built without root): take it now.
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys

end() {
  echo "teemm-init: $*"
  echo "teemm-init: powering off"
  poweroff -f
  sleep 10
}

echo "teemm-init: Linux $(uname -r) up, $(grep -c ^processor /proc/cpuinfo) CPU, $(cut -d' ' -f1 /proc/uptime) s"
stage=$(grep -o 'teemm=[a-z]*' /proc/cmdline)
if [ "$stage" = "teemm=boot" ]; then end "boot only"; fi
if [ "$stage" = "teemm=reset" ]; then
  echo "teemm-init: restarting"
  reboot -f
  sleep 10
fi

insmod /lib/modules/tee.ko || end "FAIL: insmod tee.ko"
insmod /lib/modules/optee.ko || end "FAIL: insmod optee.ko"
echo "teemm-init: modules loaded: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
dmesg | grep -i -e optee -e ' tee' | sed 's/^/teemm-init: dmesg: /'
for d in tee0 teepriv0; do
  [ -c /dev/$d ] || end "FAIL: no /dev/$d"
done
echo "teemm-init: devices: $(ls -l /dev/tee0 /dev/teepriv0 | awk '{print $1, $5, $6, $NF}' | tr '\n' ';')"
if [ "$stage" = "teemm=probe" ]; then end "probe only"; fi

/teemm-client
status=$?
echo "teemm-init: client exit status $status"
dmesg | grep -i -e optee -e ' tee' -e 'BUG' -e 'WARNING' | sed 's/^/teemm-init: dmesg: /'
end "done (interrupts: $(grep -e arch_timer /proc/interrupts | awk '{print $2}') timer ticks)"
