# VX86_TEST=devices: the virtio PCI functions and what bound to them, 16 bytes from the virtio
# rng, then DEVICES-OK. Also how their interrupts arrive (/proc/interrupts: MSI-X, IO-APIC
# or XT-PIC lines).
echo "PCI functions of vendor 0x1af4 (address vendor device driver):"
for d in /sys/bus/pci/devices/*; do
    [ "$(cat "$d/vendor")" = 0x1af4 ] || continue
    drv=-
    [ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
    echo "  ${d##*/} $(cat "$d/vendor") $(cat "$d/device") $drv"
done
echo "virtio devices (name device-type driver):"
for d in /sys/bus/virtio/devices/*; do
    [ -e "$d/device" ] || continue
    drv=-
    [ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
    echo "  ${d##*/} $(cat "$d/device") $drv"
done
echo "interrupts of the virtio devices (irq count controller type name):"
grep virtio /proc/interrupts | tr -s ' ' | sed 's/^ */  /'
echo "hwrng: $(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)"
if [ -c /dev/hwrng ]; then
    head -c 16 /dev/hwrng | od -An -tx1
else
    echo "no /dev/hwrng"
fi
echo DEVICES-OK
