# VX86_TEST=net: virtio-net between two guests. The kernel command line gives this guest's
# address and its peer's: VX86_IP=10.0.0.X VX86_PEER=10.0.0.Y (a /24). Configures eth0, waits
# up to 60 s for the peer to answer one ping (it may boot later), then pings it 3 times
# (ping -c 3 -W 5) and prints PING-OK or PING-FAIL; then waits 5 s so the peer can finish its
# own pings before this guest powers off.
for w in $(cat /proc/cmdline); do
    case $w in
        VX86_IP=*) VX86_IP=${w#VX86_IP=} ;;
        VX86_PEER=*) VX86_PEER=${w#VX86_PEER=} ;;
    esac
done
if [ -z "${VX86_IP:-}" ] || [ -z "${VX86_PEER:-}" ]; then
    echo "PING-FAIL: VX86_IP= and VX86_PEER= are needed on the kernel command line"
    exit 1
fi
if [ ! -e /sys/class/net/eth0 ]; then
    echo "PING-FAIL: no eth0"
    exit 1
fi
ip link set lo up
ip addr add "$VX86_IP/24" dev eth0 && ip link set eth0 up ||
    { echo "PING-FAIL: cannot configure eth0"; exit 1; }
echo "net: eth0 $(cat /sys/class/net/eth0/address) $VX86_IP, peer $VX86_PEER"
n=0
until ping -c 1 -W 1 "$VX86_PEER" >/dev/null 2>&1; do
    n=$((n + 1))
    [ $n -lt 60 ] || break
done
if ping -c 3 -W 5 "$VX86_PEER"; then
    echo PING-OK
else
    echo PING-FAIL
fi
sleep 5
