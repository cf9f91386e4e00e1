# Package sets of the three Debian root filesystems (sourced by the build scripts).
# node: what kind's base image installs (minus nfs-common/open-iscsi) plus Debian's containerd,
#       runc and CNI plugins. slim: base of the component images (kube-proxy and kindnetd need
#       iptables, nftables and conntrack). nginx: Debian's nginx.
ROOTFS_NODE="systemd,dbus,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,fuse-overlayfs,bash,ca-certificates,curl,jq,procps,containerd,runc,containernetworking-plugins,hostname"
ROOTFS_SLIM="ca-certificates,iptables,nftables,conntrack,iproute2,kmod"
ROOTFS_NGINX="nginx,ca-certificates"
# frr: the BGP router of notebook 07_bgp (Debian's frr), with iproute2 and wget, so the same image
#      serves as the router and as the client container behind it.
ROOTFS_FRR="frr,iproute2,iputils-ping,wget,procps"
