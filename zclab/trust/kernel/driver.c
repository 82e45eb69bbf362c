// zclab-vhost-tx: a userspace vhost-net TX driver. The process plays the guest: its own
// anonymous memory holds the split virtqueue (the TX queue, index 1) and the packet buffers,
// one vhost memory region maps that memory one to one (guest-physical == user address), an
// eventfd is the kick and another the call, and a tap or macvtap fd is the backend. It posts
// N packets, reaps the used ring as it goes, and reports every used-ring entry.
//
// usage: zclab-vhost-tx (-t TAPNAME | -m /dev/tapN) [-s SIZE[,SIZE...]] [-n PACKETS] [-q RING]
//                       [-V] [-W SECONDS] [-K TRACEFS] [-B KB]
//   -t NAME   create tap NAME (IFF_TAP|IFF_NO_PI[|IFF_VNET_HDR]), bring it up: local delivery
//   -m DEV    an existing macvtap character device (macvtap on a dummy: "the wire")
//   -s LIST   Ethernet frame sizes, posted in turn (packet k uses LIST[k % len]); default 1500.
//             Each descriptor holds the 12-byte virtio_net_hdr_mrg_rxbuf, then the frame.
//             Frames above 1514 bytes are TCPv4 GSO frames (gso_size 1448), as a guest's TSO.
//   -n N      packets to post (default 1000); -q N ring size, a power of two (default 256)
//   -V        negotiate VHOST_NET_F_VIRTIO_NET_HDR: vhost strips the header (vhost_hlen = 12)
//             and the socket carries none. Default: the socket carries it (IFF_VNET_HDR +
//             TUNSETVNETHDRSZ 12, as QEMU sets a tap up; vhost_hlen = 0).
//   -W S      watchdog: stop when nothing completes for S seconds (default 5)
//   -K DIR    count with kprobes through the tracefs at DIR (e.g. /sys/kernel/tracing)
//   -B KB     per-CPU trace buffer of the tracing instance (default 16384)
//
// SIZE SEMANTICS (drivers/vhost/net.c, get_tx_bufs -> init_iov_iter): handle_tx_zerocopy
// compares iov_length(descriptor) - vhost_hlen with VHOST_GOODCOPY_LEN (256). With the header
// in the socket (default) that is 12 + frame; with -V it is the frame.
//
// OUTPUT (stdout, one line each, space-separated key=value; sequences run-length encoded as
// comma-separated "start+count" runs of consecutive integers):
//   ZC_RESULT ...          counts and times (see the printf at the end)
//   ZC_USED seqs           the packet seq of each used-ring entry, in used-ring order
//   ZC_HEAD heads          the descriptor head of each packet, in seq (avail) order
//   ZC_PATH runs           with -K: per packet in seq order, "z" (zero-copy: sendmsg with no
//                          vhost_add_used_and_signal after it) or "c" (copy), as letterN runs
//   ZC_TRACE ...           with -K: kprobe counts
// seq is 0-based in avail (submission) order, as zclab's model numbers its packets.
// Exit status: 0 all packets returned, 3 watchdog fired, 1 setup error, 2 usage.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <poll.h>
#include <time.h>
#include <dirent.h>
#include <glob.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_net.h>
#include <linux/virtio_config.h>

#define HDR 12 /* struct virtio_net_hdr_mrg_rxbuf (VERSION_1) */
#define MAXSIZES 64
#define MAXFRAME 65549 /* IPv4 total length <= 65535, plus the Ethernet header */
#define DIE(...) do { fprintf(stderr, __VA_ARGS__); fprintf(stderr, ": %s\n", strerror(errno)); \
	printf("ZC_ERROR "); printf(__VA_ARGS__); printf(": %s\n", strerror(errno)); fflush(stdout); exit(1); } while (0)
#ifndef VHOST_NET_F_VIRTIO_NET_HDR
#define VHOST_NET_F_VIRTIO_NET_HDR 27
#endif

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static uint16_t csum16(const void *p, int len) {
	const uint8_t *b = p; uint32_t s = 0;
	for (int i = 0; i + 1 < len; i += 2) s += (b[i] << 8) | b[i + 1];
	if (len & 1) s += b[len - 1] << 8;
	while (s >> 16) s = (s & 0xffff) + (s >> 16);
	return htons(~s & 0xffff);
}

/* p points at the 12-byte header; an IPv4 frame of `size` bytes follows: UDP, or TCP GSO
 * when it exceeds an Ethernet MTU. Called before each post when sizes vary. */
static void build_pkt(uint8_t *p, int size, int socket_hdr) {
	int gso = size > 1514;
	memset(p, 0, HDR + 54);
	struct virtio_net_hdr_mrg_rxbuf *vh = (void *)p;
	uint8_t *e = p + HDR;
	static const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x02}, src[6] = {0x02, 0, 0, 0, 0, 0x01};
	memcpy(e, dst, 6); memcpy(e + 6, src, 6);
	e[12] = 0x08; e[13] = 0x00;
	uint8_t *ip = e + 14;
	int iplen = size - 14;
	ip[0] = 0x45; ip[2] = iplen >> 8; ip[3] = iplen & 0xff; ip[8] = 64; ip[9] = gso ? 6 : 17;
	ip[12] = 10; ip[15] = 1; ip[16] = 10; ip[19] = 2; /* 10.0.0.1 -> 10.0.0.2 */
	uint16_t c = csum16(ip, 20); memcpy(ip + 10, &c, 2);
	uint8_t *l = ip + 20;
	l[0] = 0x30; l[1] = 0x39; l[2] = 0x30; l[3] = 0x3a; /* ports 12345 -> 12346 */
	if (gso && socket_hdr) {
		l[12] = 0x50; l[13] = 0x18; l[14] = 0xff; l[15] = 0xff; /* doff=5, PSH|ACK */
		vh->hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh->hdr.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		vh->hdr.gso_size = 1448; vh->hdr.hdr_len = 54;
		vh->hdr.csum_start = 34; vh->hdr.csum_offset = 16;
	} else if (!gso) {
		int ul = size - 34; l[4] = ul >> 8; l[5] = ul & 0xff; /* UDP checksum 0: none */
	}
}

/* --- run-length output of integer sequences: "start+count" runs of consecutive values --- */
static void print_runs(const char *tag, const long *v, long n) {
	printf("%s ", tag);
	long i = 0; int first = 1;
	while (i < n) {
		long j = i + 1;
		while (j < n && v[j] == v[j - 1] + 1) j++;
		printf("%s%ld+%ld", first ? "" : ",", v[i], j - i);
		first = 0; i = j;
	}
	printf("\n");
}

/* --- kprobes through tracefs ------------------------------------------------------------ */
static char tdir[256], idir[320];
static int tracing;
/* the probes: name, definition; "send" is set to tap_sendmsg or tun_sendmsg by the backend */
enum { P_SEND, P_USED, P_CB, P_COPY, NPROBE };
static const char *pname[NPROBE] = {"send", "used", "cb", "copy"};
static char pdef[NPROBE][128];
static int pok[NPROBE];

static int wr(const char *path, const char *s, int append) {
	int fd = open(path, O_WRONLY | (append ? O_APPEND : O_TRUNC));
	if (fd < 0) return -1;
	int r = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
	close(fd);
	return r;
}

static void trace_teardown(void) {
	char p[512], s[160];
	snprintf(p, sizeof p, "%s/tracing_on", idir); wr(p, "0", 0);
	for (int i = 0; i < NPROBE; i++) {
		snprintf(p, sizeof p, "%s/events/zclab/%s/enable", idir, pname[i]); wr(p, "0", 0);
	}
	rmdir(idir);
	snprintf(p, sizeof p, "%s/kprobe_events", tdir);
	for (int i = 0; i < NPROBE; i++) { snprintf(s, sizeof s, "-:zclab/%s\n", pname[i]); wr(p, s, 1); }
}

static void trace_setup(const char *dir, int tap_backend, int buf_kb) {
	char p[512], s[64];
	snprintf(tdir, sizeof tdir, "%s", dir);
	snprintf(idir, sizeof idir, "%s/instances/zclab", dir);
	trace_teardown(); /* leftovers of a run that was killed */
	/* tap_sendmsg (drivers/net/tap.c) / tun_sendmsg (drivers/net/tun.c): once per packet,
	 * called by handle_tx_* through sock->ops->sendmsg, in avail order.
	 * vhost_add_used_and_signal (drivers/vhost/vhost.c, exported): handle_tx_zerocopy calls
	 * it right after sendmsg for each packet it did NOT send zero-copy.
	 * vhost_zerocopy_callback(skb, ubuf, bool success) (drivers/vhost/net.c): one per
	 * zero-copy skb freed; success is the third argument, %dx on x86_64.
	 * skb_copy_ubufs (net/core/skbuff.c): a zero-copy skb's pages copied after all. */
	snprintf(pdef[P_SEND], 128, "p:zclab/send %s\n", tap_backend ? "tun_sendmsg" : "tap_sendmsg");
	snprintf(pdef[P_USED], 128, "p:zclab/used vhost_add_used_and_signal\n");
	snprintf(pdef[P_CB], 128, "p:zclab/cb vhost_zerocopy_callback success=%%dx:u8\n");
	snprintf(pdef[P_COPY], 128, "p:zclab/copy skb_copy_ubufs\n");
	snprintf(p, sizeof p, "%s/kprobe_events", tdir);
	for (int i = 0; i < NPROBE; i++) {
		pok[i] = wr(p, pdef[i], 1) == 0;
		if (!pok[i]) fprintf(stderr, "kprobe %s: %s", pname[i], pdef[i]);
	}
	if (mkdir(idir, 0755) < 0 && errno != EEXIST) { fprintf(stderr, "mkdir %s: %s\n", idir, strerror(errno)); return; }
	snprintf(s, sizeof s, "%d", buf_kb);
	snprintf(p, sizeof p, "%s/buffer_size_kb", idir); wr(p, s, 0);
	snprintf(p, sizeof p, "%s/options/overwrite", idir); wr(p, "0", 0); /* keep the first events */
	snprintf(p, sizeof p, "%s/trace_clock", idir); wr(p, "global", 0); /* ordered across CPUs */
	tracing = 1;
}

/* The vhost worker of this process: a kthread "vhost-PID" (6.1) or, since 6.4, a thread of
 * this process with that name. Its pid filters the per-packet probes. */
static long find_worker(void) {
	char want[32], p[300], comm[64];
	snprintf(want, sizeof want, "vhost-%d", getpid());
	const char *dirs[2] = {"/proc/self/task", "/proc"};
	for (int d = 0; d < 2; d++) {
		DIR *D = opendir(dirs[d]); struct dirent *e;
		if (!D) continue;
		while ((e = readdir(D))) {
			if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
			snprintf(p, sizeof p, "%s/%s/comm", dirs[d], e->d_name);
			FILE *f = fopen(p, "r"); if (!f) continue;
			if (fgets(comm, sizeof comm, f)) {
				comm[strcspn(comm, "\n")] = 0;
				if (!strcmp(comm, want)) { fclose(f); closedir(D); return atol(e->d_name); }
			}
			fclose(f);
		}
		closedir(D);
	}
	return -1;
}

static void trace_start(long worker) {
	char p[512], s[64];
	if (!tracing) return;
	for (int i = 0; i < NPROBE; i++) {
		if (!pok[i]) continue;
		if (worker > 0 && (i == P_SEND || i == P_USED)) {
			snprintf(p, sizeof p, "%s/events/zclab/%s/filter", idir, pname[i]);
			snprintf(s, sizeof s, "common_pid == %ld", worker);
			wr(p, s, 0);
		}
		snprintf(p, sizeof p, "%s/events/zclab/%s/enable", idir, pname[i]);
		if (wr(p, "1", 0) < 0) pok[i] = 0;
	}
	snprintf(p, sizeof p, "%s/tracing_on", idir); wr(p, "1", 0);
}

/* kprobe_profile: "EVENT HITS MISSES"; a miss is a call the probe saw but could not record
 * (another probe was running on that CPU), so the calls are hits + misses */
static long profile_hits(const char *name, long *missed) {
	char p[300], line[512], want[64];
	snprintf(p, sizeof p, "%s/kprobe_profile", tdir);
	snprintf(want, sizeof want, "zclab/%s", name);
	FILE *f = fopen(p, "r"); if (!f) return -1;
	long hits = -1;
	*missed = 0;
	while (fgets(line, sizeof line, f)) {
		char ev[128]; long h, m;
		if (sscanf(line, "%127s %ld %ld", ev, &h, &m) == 3 && (!strcmp(ev, want) || !strcmp(ev, name))) { hits = h; *missed = m; }
	}
	fclose(f);
	return hits;
}

/* Read the instance's buffer: path of each packet, failed callbacks, lost events. */
static void trace_finish(long sent, int zcopytx, long worker) {
	char p[512], line[1024];
	if (!tracing) return;
	snprintf(p, sizeof p, "%s/tracing_on", idir); wr(p, "0", 0);
	long hits[NPROBE], missed[NPROBE];
	for (int i = 0; i < NPROBE; i++) { missed[i] = 0; hits[i] = pok[i] ? profile_hits(pname[i], &missed[i]) : -1; }
	long lost = 0;
	glob_t g;
	snprintf(p, sizeof p, "%s/per_cpu/cpu*/stats", idir);
	if (glob(p, 0, NULL, &g) == 0) {
		for (size_t k = 0; k < g.gl_pathc; k++) {
			FILE *f = fopen(g.gl_pathv[k], "r"); if (!f) continue;
			while (fgets(line, sizeof line, f)) {
				long v;
				if (sscanf(line, "overrun: %ld", &v) == 1 || sscanf(line, "dropped events: %ld", &v) == 1) lost += v;
			}
			fclose(f);
		}
		globfree(&g);
	}
	char *path = calloc(sent + 1, 1);
	long k = -1, nsend = 0, nused = 0, ncb = 0, ncbfail = 0, ncopy = 0, used_orphan = 0;
	snprintf(p, sizeof p, "%s/trace", idir);
	FILE *f = fopen(p, "r");
	while (f && fgets(line, sizeof line, f)) {
		if (line[0] == '#') continue;
		if (strstr(line, " send: (")) {
			nsend++; k++;
			if (k < sent) path[k] = zcopytx ? 'z' : 'c';
		} else if (strstr(line, " used: (")) {
			nused++;
			if (k >= 0 && k < sent && zcopytx) path[k] = 'c'; else used_orphan++;
		} else if (strstr(line, " cb: (")) {
			ncb++;
			char *q = strstr(line, "success=");
			if (q && atoi(q + 8) == 0) ncbfail++;
		} else if (strstr(line, " copy: (")) ncopy++;
	}
	if (f) fclose(f);
	/* the path of packet k is known when its sendmsg and everything after it up to the next
	 * sendmsg were recorded: all packets if nothing was lost, else those before the last seen */
	long known = nsend == sent && lost == 0 ? sent : (nsend > 0 && nsend <= sent ? nsend - 1 : 0);
	if (nsend > sent) known = 0; /* a sendmsg was retried (failed and re-posted): no inference */
	if (missed[P_SEND] > 0 || missed[P_USED] > 0) known = 0; /* an event is missing somewhere */
	printf("ZC_TRACE probes=%s%s%s%s worker_pid=%ld send_events=%ld used_events=%ld cb_events=%ld cb_failed=%ld "
	       "copy_events=%ld cb_hits=%ld cb_missed=%ld copy_hits=%ld copy_missed=%ld send_hits=%ld send_missed=%ld "
	       "used_missed=%ld lost_events=%ld path_known=%ld\n",
	       pok[P_SEND] ? "s" : "", pok[P_USED] ? "u" : "", pok[P_CB] ? "c" : "", pok[P_COPY] ? "y" : "",
	       worker, nsend, nused, ncb, ncbfail, ncopy, hits[P_CB], missed[P_CB], hits[P_COPY], missed[P_COPY],
	       hits[P_SEND], missed[P_SEND], missed[P_USED], lost, known);
	printf("ZC_PATH ");
	for (long i = 0; i < known;) {
		long j = i + 1;
		while (j < known && path[j] == path[i]) j++;
		printf("%c%ld", path[i], j - i);
		i = j;
	}
	printf("\n");
	free(path);
	trace_teardown();
}

static void usage(void) {
	fprintf(stderr, "usage: zclab-vhost-tx (-t tap | -m /dev/tapN) [-s size[,size...]] [-n pkts] [-q ring] "
			"[-V] [-W seconds] [-K tracefs] [-B kb]\n");
	exit(2);
}

int main(int argc, char **argv) {
	const char *tapname = NULL, *mtap = NULL, *tracefs = NULL;
	int sizes[MAXSIZES] = {1500}, nsizes = 1, num = 256, vhdr = 0, buf_kb = 16384, o;
	long npkts = 1000;
	double watchdog = 5;
	while ((o = getopt(argc, argv, "t:m:s:n:q:VW:K:B:h")) != -1) switch (o) {
		case 't': tapname = optarg; break;
		case 'm': mtap = optarg; break;
		case 's': {
			nsizes = 0;
			for (char *tok = strtok(optarg, ","); tok; tok = strtok(NULL, ",")) {
				if (nsizes == MAXSIZES) { fprintf(stderr, "at most %d sizes\n", MAXSIZES); return 2; }
				sizes[nsizes++] = atoi(tok);
			}
			break;
		}
		case 'n': npkts = atol(optarg); break;
		case 'q': num = atoi(optarg); break;
		case 'V': vhdr = 1; break;
		case 'W': watchdog = atof(optarg); break;
		case 'K': tracefs = optarg; break;
		case 'B': buf_kb = atoi(optarg); break;
		default: usage();
	}
	if (!tapname == !mtap) usage();
	int maxsize = 0;
	for (int i = 0; i < nsizes; i++) {
		if (sizes[i] < 60 || sizes[i] > MAXFRAME) { fprintf(stderr, "frame size %d: must be 60 to %d\n", sizes[i], MAXFRAME); return 2; }
		if (sizes[i] > maxsize) maxsize = sizes[i];
	}
	if (nsizes == 0 || npkts < 1) usage();
	if (num < 2 || num > 32768 || (num & (num - 1))) { fprintf(stderr, "ring size must be a power of two <= 32768\n"); return 2; }

	/* --- backend: tap or macvtap --- */
	int tfd, hdrsz = HDR;
	if (mtap) {
		tfd = open(mtap, O_RDWR); if (tfd < 0) DIE("open %s", mtap);
		if (vhdr) { /* macvtap defaults to IFF_VNET_HDR; switch it off */
			struct ifreq ifr = {0};
			ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
			if (ioctl(tfd, TUNSETIFF, &ifr) < 0) DIE("TUNSETIFF(macvtap, no vnet hdr)");
		}
	} else {
		struct ifreq ifr = {0};
		tfd = open("/dev/net/tun", O_RDWR); if (tfd < 0) DIE("open /dev/net/tun");
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vhdr ? 0 : IFF_VNET_HDR);
		strncpy(ifr.ifr_name, tapname, IFNAMSIZ - 1);
		if (ioctl(tfd, TUNSETIFF, &ifr) < 0) DIE("TUNSETIFF");
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) DIE("SIOCGIFFLAGS");
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) DIE("SIOCSIFFLAGS");
		close(s);
	}
	if (!vhdr && ioctl(tfd, TUNSETVNETHDRSZ, &hdrsz) < 0) DIE("TUNSETVNETHDRSZ");

	/* --- memory: ring + one page-aligned packet slot per descriptor, one mem-table region --- */
	size_t ringsz = (vring_size(num, 4096) + 4095) & ~4095UL;
	size_t slot = ((size_t)HDR + maxsize + 4095) & ~4095UL;
	size_t total = ringsz + slot * num;
	uint8_t *mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED) DIE("mmap");
	struct vring vr; vring_init(&vr, num, mem, 4096);
	uint8_t *bufs = mem + ringsz;
	for (int i = 0; i < num; i++) {
		build_pkt(bufs + i * slot, sizes[0], !vhdr);
		vr.desc[i].addr = (uint64_t)(uintptr_t)(bufs + i * slot);
		vr.desc[i].len = HDR + sizes[0]; vr.desc[i].flags = 0; vr.desc[i].next = 0;
	}

	/* --- vhost-net setup --- */
	int zcopytx = -1;
	FILE *pf = fopen("/sys/module/vhost_net/parameters/experimental_zcopytx", "r");
	if (pf) { if (fscanf(pf, "%d", &zcopytx) != 1) zcopytx = -1; fclose(pf); }
	if (tracefs) trace_setup(tracefs, tapname != NULL, buf_kb);
	int vfd = open("/dev/vhost-net", O_RDWR); if (vfd < 0) DIE("open /dev/vhost-net");
	if (ioctl(vfd, VHOST_SET_OWNER, NULL) < 0) DIE("VHOST_SET_OWNER");
	uint64_t feat; if (ioctl(vfd, VHOST_GET_FEATURES, &feat) < 0) DIE("VHOST_GET_FEATURES");
	uint64_t want = 1ULL << VIRTIO_F_VERSION_1;
	if (vhdr) want |= 1ULL << VHOST_NET_F_VIRTIO_NET_HDR;
	if ((feat & want) != want) { errno = EOPNOTSUPP; DIE("features %llx lack %llx", (unsigned long long)feat, (unsigned long long)want); }
	if (ioctl(vfd, VHOST_SET_FEATURES, &want) < 0) DIE("VHOST_SET_FEATURES");
	struct { struct vhost_memory m; struct vhost_memory_region r; } mt = {0};
	mt.m.nregions = 1;
	mt.r.guest_phys_addr = mt.r.userspace_addr = (uint64_t)(uintptr_t)mem; mt.r.memory_size = total;
	if (ioctl(vfd, VHOST_SET_MEM_TABLE, &mt) < 0) DIE("VHOST_SET_MEM_TABLE");
	const int TXQ = 1;
	struct vhost_vring_state st = {.index = TXQ, .num = num};
	if (ioctl(vfd, VHOST_SET_VRING_NUM, &st) < 0) DIE("SET_VRING_NUM");
	st.num = 0; if (ioctl(vfd, VHOST_SET_VRING_BASE, &st) < 0) DIE("SET_VRING_BASE");
	struct vhost_vring_addr ad = {.index = TXQ,
		.desc_user_addr = (uint64_t)(uintptr_t)vr.desc, .avail_user_addr = (uint64_t)(uintptr_t)vr.avail,
		.used_user_addr = (uint64_t)(uintptr_t)vr.used};
	if (ioctl(vfd, VHOST_SET_VRING_ADDR, &ad) < 0) DIE("SET_VRING_ADDR");
	int kick = eventfd(0, EFD_NONBLOCK), call = eventfd(0, EFD_NONBLOCK);
	struct vhost_vring_file f = {.index = TXQ, .fd = kick};
	if (ioctl(vfd, VHOST_SET_VRING_KICK, &f) < 0) DIE("SET_VRING_KICK");
	f.fd = call; if (ioctl(vfd, VHOST_SET_VRING_CALL, &f) < 0) DIE("SET_VRING_CALL");
	long worker = tracefs ? find_worker() : -1;
	if (tracefs) trace_start(worker);
	f.fd = tfd; if (ioctl(vfd, VHOST_NET_SET_BACKEND, &f) < 0) DIE("VHOST_NET_SET_BACKEND");

	/* --- TX loop --- */
	uint16_t *freel = malloc(num * 2);
	long *seq_of_head = malloc(num * sizeof(long));
	long *used_seq = malloc(npkts * sizeof(long)), *head_of_seq = malloc(npkts * sizeof(long));
	if (!freel || !seq_of_head || !used_seq || !head_of_seq) DIE("malloc");
	int nfree = num, fhead = 0, ftail = 0;
	for (int i = 0; i < num; i++) freel[i] = i;
	uint16_t avail_idx = 0, last_used = 0;
	long sent = 0, done = 0, maxseq = -1, ooo = 0, maxdisp = 0, kicks = 0, waits = 0;
	long badid = 0; uint64_t ev;
	int fired = 0;
	vr.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	double t0 = now(), tlast = t0;
	while (done < npkts) {
		int posted = 0;
		while (sent < npkts && nfree > 0) {
			uint16_t h = freel[fhead]; fhead = (fhead + 1) % num; nfree--;
			int fl = sizes[sent % nsizes];
			if (nsizes > 1) { build_pkt(bufs + h * slot, fl, !vhdr); vr.desc[h].len = HDR + fl; }
			seq_of_head[h] = sent; head_of_seq[sent] = h; sent++;
			vr.avail->ring[avail_idx % num] = h; avail_idx++; posted++;
		}
		if (posted) {
			__atomic_store_n(&vr.avail->idx, avail_idx, __ATOMIC_RELEASE);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (!(__atomic_load_n(&vr.used->flags, __ATOMIC_ACQUIRE) & VRING_USED_F_NO_NOTIFY)) {
				ev = 1; if (write(kick, &ev, 8) != 8) DIE("kick"); kicks++;
			}
		}
		long done_before = done;
		uint16_t uidx = __atomic_load_n(&vr.used->idx, __ATOMIC_ACQUIRE);
		while (last_used != uidx) {
			struct vring_used_elem *u = &vr.used->ring[last_used % num];
			uint32_t h = u->id;
			last_used++;
			if (h >= (uint32_t)num) { badid++; continue; }
			long s = seq_of_head[h];
			used_seq[done++] = s;
			/* out of order: a return whose seq is lower than the highest returned before it */
			if (s < maxseq) { ooo++; if (maxseq - s > maxdisp) maxdisp = maxseq - s; } else maxseq = s;
			freel[ftail] = h; ftail = (ftail + 1) % num; nfree++;
		}
		if (done > done_before) tlast = now();
		if (done == done_before && done < npkts && !(sent < npkts && nfree > 0)) {
			/* nothing to post: ask for an interrupt and wait for vhost to signal */
			vr.avail->flags = 0;
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (__atomic_load_n(&vr.used->idx, __ATOMIC_ACQUIRE) == last_used) {
				struct pollfd p = {.fd = call, .events = POLLIN};
				waits++;
				int r = poll(&p, 1, 250);
				if (r == 0 && now() - tlast > watchdog) { fired = 1; break; }
				if (read(call, &ev, 8) < 0 && errno != EAGAIN) DIE("read call");
			}
			vr.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
		}
	}
	double dt = now() - t0;
	long inflight = num - nfree;
	/* report before closing anything: closing /dev/vhost-net (vhost_net_release ->
	 * vhost_net_flush) waits for zero-copy buffers still in flight, so after a watchdog stop
	 * what was seen is out first, and a wait that never ends is the caller's timeout */
	printf("ZC_RESULT backend=%s vnet_hdr=%s zcopytx=%d sizes=", mtap ? "macvtap" : "tap", vhdr ? "vhost" : "socket", zcopytx);
	for (int i = 0; i < nsizes; i++) printf("%s%d", i ? "," : "", sizes[i]);
	printf(" vhost_hlen=%d ring=%d packets=%ld sent=%ld used_entries=%ld inflight=%ld bad_ids=%ld ooo=%ld max_disp=%ld "
	       "time_s=%.6f pps=%.1f kicks=%ld waits=%ld watchdog=%d\n",
	       vhdr ? HDR : 0, num, npkts, sent, done, inflight, badid, ooo, maxdisp, dt, dt > 0 ? done / dt : 0.0,
	       kicks, waits, fired);
	print_runs("ZC_USED", used_seq, done);
	print_runs("ZC_HEAD", head_of_seq, sent);
	fflush(stdout);
	if (tracefs) { trace_finish(sent, zcopytx == 1, worker); fflush(stdout); }
	printf("ZC_DONE\n");
	fflush(stdout);
	if (!fired) { close(vfd); close(tfd); }
	return fired ? 3 : (done == npkts ? 0 : 1);
}
