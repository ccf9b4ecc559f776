#include "build/presets.h"

#include <algorithm>

#include "base/error.h"

namespace distill {

PresetRef PresetRef::parse(const std::string& text) {
  static const std::vector<std::string> names = {"static", "base-nossl", "base", "cc", "python3", "java", "nodejs"};
  static const std::vector<std::string> variants = {"latest", "nonroot", "debug", "debug-nonroot"};
  PresetRef p;
  auto colon = text.find(':');
  p.name = text.substr(0, colon);
  p.variant = colon == std::string::npos ? "latest" : text.substr(colon + 1);
  if (std::find(names.begin(), names.end(), p.name) == names.end())
    throw UsageError("unknown preset \"" + p.name + "\" (use static, base-nossl, base, cc, python3, java or nodejs)");
  if (std::find(variants.begin(), variants.end(), p.variant) == variants.end())
    throw UsageError("unknown preset variant \"" + p.variant + "\" (use latest, nonroot, debug or debug-nonroot)");
  return p;
}

namespace {

using List = std::vector<std::string>;

void append(List& to, const List& from) { to.insert(to.end(), from.begin(), from.end()); }

/// Distroless's package lists (reference: distroless.md §3), per suite.
List packages_for(const std::string& name, bool trixie) {
  List out = {"base-files", "netbase", "tzdata", "media-types", "ca-certificates"};
  if (trixie) out.insert(out.begin() + 3, "tzdata-legacy");
  if (name == "static") return out;
  out.push_back("libc6");
  if (name == "base-nossl") return out;
  if (name == "java") {
    append(out, {"zlib1g", "libjpeg62-turbo", "liblcms2-2", "libfreetype6", "fonts-dejavu-core", "fontconfig-config",
                 "libexpat1", "libfontconfig1", "libuuid1", "libbrotli1", "libcrypt1", "libstdc++6", "libgcc-s1",
                 trixie ? "gcc-14-base" : "gcc-12-base", trixie ? "libpng16-16t64" : "libpng16-16", "libbz2-1.0"});
    if (!trixie) append(out, {"libharfbuzz0b", "libgraphite2-3", "libpcre2-8-0", "libglib2.0-0"});
    // Derived: the C.UTF-8 locale only (see derive_package).
    append(out, {"libc-bin", trixie ? "openjdk-21-jre-headless" : "openjdk-17-jre-headless"});
    return out;
  }
  if (trixie) append(out, {"libssl3t64", "libzstd1", "zlib1g"});
  else out.push_back("libssl3");
  if (name == "base") return out;
  append(out, {"libgomp1", "libstdc++6", "libgcc-s1", trixie ? "gcc-14-base" : "gcc-12-base"});
  if (name == "cc" || name == "nodejs") return out;
  // python3
  if (trixie)
    append(out, {"libbz2-1.0", "libdb5.3t64", "libexpat1", "liblzma5", "libsqlite3-0", "libuuid1", "libncursesw6",
                 "libtinfo6", "libcom-err2", "libcrypt1", "libc-bin", "libgssapi-krb5-2", "libk5crypto3",
                 "libkeyutils1", "libkrb5-3", "libkrb5support0", "libnsl2", "libreadline8t64", "libtirpc3t64", "libffi8",
                 "libpython3.13-minimal", "libpython3.13-stdlib", "python3.13-minimal", "python3.13-venv"});
  else
    // distroless's debian12 list, plus libc-bin as on trixie: without
    // /sbin/ldconfig, ctypes.util.find_library finds nothing.
    append(out, {"libbz2-1.0", "libdb5.3", "libexpat1", "liblzma5", "libsqlite3-0", "libuuid1", "libncursesw6",
                 "libtinfo6", "python3-distutils", "zlib1g", "libcom-err2", "libcrypt1", "libc-bin",
                 "libgssapi-krb5-2", "libk5crypto3",
                 "libkeyutils1", "libkrb5-3", "libkrb5support0", "libnsl2", "libreadline8", "libtirpc3", "libffi8",
                 "libpython3.11-minimal", "libpython3.11-stdlib", "python3.11-minimal"});
  return out;
}

deb::PackageRequest listed(const std::string& name) {
  deb::PackageRequest r = deb::PackageRequest::parse(name);
  r.nodeps = true;
  return r;
}

PathSpec symlink(const std::string& path, const std::string& target) {
  PathSpec p;
  p.place = SpecPlace{"preset", 0, 0, "paths"};
  p.path = path;
  p.type = PathSpec::Type::symlink;
  p.target = target;
  return p;
}

}  // namespace

Spec preset_spec(const PresetRef& preset, const std::string& suite) {
  if (suite != "trixie" && suite != "bookworm") throw UsageError("presets exist for trixie and bookworm, not " + suite);
  bool trixie = suite == "trixie";
  Spec spec;
  spec.from = "preset:" + preset.name + ":" + preset.variant;
  spec.file = "preset-" + preset.name + ".yaml";
  spec.contents = ContentsSpec{};
  spec.contents->place = SpecPlace{"preset:" + preset.name, 0, 0, "contents"};
  for (const std::string& name : packages_for(preset.name, trixie)) spec.contents->packages.push_back(listed(name));
  if (preset.name == "nodejs") {
    // Debian's nodejs and what it needs, resolved on top of cc; nothing
    // that would bring a shell or debconf.
    spec.contents->packages.push_back(deb::PackageRequest::parse("nodejs"));
    spec.contents->packages.push_back(deb::PackageRequest::parse("!debconf"));
  }
  if (preset.debug()) spec.contents->packages.push_back(listed("busybox-static"));
  for (size_t i = 0; i < spec.contents->packages.size(); ++i)
    spec.contents->package_places.push_back(spec.contents->place);
  spec.generated.rootfs = true;
  spec.generated.busybox = preset.debug();
  spec.generated.suite = suite;
  spec.generated.derived = {"ca-certificates", "busybox-static"};
  if (preset.name == "java") spec.generated.derived.insert("libc-bin");

  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  if (preset.debug()) path += ":/busybox";
  spec.env = {{"PATH", path}, {"SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"}};
  spec.user = preset.nonroot() ? "65532" : "0";
  spec.workdir = preset.nonroot() ? "/home/nonroot" : "/";
  spec.annotations["org.opencontainers.image.source"] = "https://github.com/GoogleContainerTools/distroless";
  std::string py = trixie ? "python3.13" : "python3.11";
  if (preset.name == "python3") {
    spec.env.push_back({"LANG", "C.UTF-8"});
    spec.entrypoint = std::vector<std::string>{"/usr/bin/" + py};
    spec.paths.push_back(symlink("/usr/bin/python", "/usr/bin/" + py));
    spec.paths.push_back(symlink("/usr/bin/python3", "/usr/bin/" + py));
  } else if (preset.name == "java") {
    spec.env.push_back({"LANG", "C.UTF-8"});
    spec.entrypoint = std::vector<std::string>{"/usr/bin/java", "-jar"};
  } else if (preset.name == "nodejs") {
    spec.entrypoint = std::vector<std::string>{"/usr/bin/node"};
  } else if (preset.debug()) {
    spec.entrypoint = std::vector<std::string>{"/busybox/sh"};
  }
  return spec;
}

Spec overlay(Spec base, const Spec& spec) {
  base.file = spec.file;
  base.base_dir = spec.base_dir;
  base.from = spec.from;
  base.app = spec.app;
  for (const FileSpec& f : spec.files) base.files.push_back(f);
  for (const PathSpec& p : spec.paths) base.paths.push_back(p);
  if (spec.contents) {
    if (!spec.contents->repositories.empty()) base.contents->repositories = spec.contents->repositories;
    if (!spec.contents->keyrings.empty()) base.contents->keyrings = spec.contents->keyrings;
    for (size_t i = 0; i < spec.contents->packages.size(); ++i) {
      base.contents->packages.push_back(spec.contents->packages[i]);
      base.contents->package_places.push_back(spec.contents->package_places[i]);
    }
    base.contents->recommends = spec.contents->recommends;
    base.contents->suggests = spec.contents->suggests;
  }
  if (spec.entrypoint) base.entrypoint = spec.entrypoint;
  if (spec.cmd) base.cmd = spec.cmd;
  for (const auto& [k, v] : spec.env) {
    auto it = std::find_if(base.env.begin(), base.env.end(), [&](const auto& e) { return e.first == k; });
    if (it != base.env.end()) it->second = v;
    else base.env.push_back({k, v});
  }
  if (spec.user) base.user = spec.user;
  if (spec.workdir) base.workdir = spec.workdir;
  if (spec.stop_signal) base.stop_signal = spec.stop_signal;
  for (const auto& p : spec.ports) base.ports.push_back(p);
  for (const auto& v : spec.volumes) base.volumes.push_back(v);
  for (const auto& [k, v] : spec.labels) base.labels[k] = v;
  for (const auto& [k, v] : spec.annotations) base.annotations[k] = v;
  if (!spec.archs.empty()) base.archs = spec.archs;
  base.strip = spec.strip;
  base.max_layers = spec.max_layers;
  base.max_layers_place = spec.max_layers_place;
  return base;
}

const std::vector<std::string>& busybox_applets() {
  // distroless's BUSYBOX_COMMANDS (experimental/busybox/commands.bzl).
  static const std::vector<std::string> applets = [] {
    const char* list =
        "[ [[ acpid add-shell addgroup adduser adjtimex ar arp arping ash awk base64 basename blkdiscard blkid blockdev "
        "bootchartd brctl bunzip2 bzcat bzip2 cal cat chat chattr chgrp chmod chown chpasswd chpst chroot chrt chvt "
        "cksum clear cmp comm conspy cp cpio crond crontab cryptpw cttyhack cut date dc dd deallocvt delgroup deluser "
        "depmod devmem df dhcprelay diff dirname dmesg dnsd dnsdomainname dos2unix dpkg dpkg-deb du dumpkmap "
        "dumpleases echo ed egrep eject env envdir envuidgid expand expr factor fakeidentd false fatattr fbset "
        "fbsplash fdflush fdformat fdisk fgconsole fgrep find findfs flash_eraseall flash_lock flash_unlock flashcp "
        "flock fold free freeramdisk fsck fsck.minix fsfreeze fstrim fsync ftpd ftpget ftpput fuser getopt getty grep "
        "groups gunzip gzip halt hd hdparm head hexdump hostid hostname httpd hush hwclock i2cdetect i2cdump i2cget "
        "i2cset id ifconfig ifenslave ifplugd inetd init inotifyd insmod install ionice iostat ip ipaddr ipcalc ipcrm "
        "ipcs iplink ipneigh iproute iprule iptunnel kbd_mode kill killall killall5 klogd last less link linux32 "
        "linux64 linuxrc ln loadfont loadkmap logger login logname losetup lpd lpq lpr ls lsattr lsmod lsof lspci "
        "lsscsi lsusb lzcat lzma lzop lzopcat makedevs makemime man md5sum mdev mesg microcom mkdir mkdosfs mke2fs "
        "mkfifo mkfs.ext2 mkfs.minix mkfs.vfat mknod mkpasswd mkswap mktemp modinfo modprobe more mount mountpoint "
        "mpstat mt mv nameif nbd-client nc netstat nice nl nmeter nohup nproc ntpd od openvt partprobe passwd paste "
        "patch pgrep pidof ping ping6 pipe_progress pivot_root pkill pmap popmaildir poweroff powertop printenv printf "
        "ps pscan pstree pwd pwdx raidautorun rdate rdev readlink readprofile realpath reboot reformime remove-shell "
        "renice reset resize rev rm rmdir rmmod route rpm rpm2cpio rtcwake run-parts runlevel runsv runsvdir rx script "
        "scriptreplay sed sendmail seq setarch setconsole setfont setkeycodes setlogcons setpriv setserial setsid "
        "setuidgid sh sha1sum sha256sum sha3sum sha512sum showkey shred shuf slattach sleep smemcap softlimit sort "
        "split ssl_client start-stop-daemon stat strings stty su sulogin sum sv svc svlogd swapoff swapon switch_root "
        "sync sysctl syslogd tac tail tar taskset tcpsvd tee telnet telnetd test tftp tftpd time timeout top touch tr "
        "traceroute traceroute6 true truncate tty ttysize tunctl tune2fs ubiattach ubidetach ubimkvol ubirename "
        "ubirmvol ubirsvol ubiupdatevol udhcpc udhcpd udpsvd uevent umount uname uncompress unexpand uniq unix2dos "
        "unlink unlzma unlzop unxz unzip uptime users usleep uudecode uuencode vconfig vi vlock volname w wall watch "
        "watchdog wc wget which who whoami whois xargs xxd xz xzcat yes zcat zcip";
    std::vector<std::string> out;
    std::string word;
    for (const char* c = list;; ++c) {
      if (*c == ' ' || *c == 0) {
        if (!word.empty()) out.push_back(word);
        word.clear();
        if (*c == 0) break;
      } else {
        word += *c;
      }
    }
    return out;
  }();
  return applets;
}

}  // namespace distill
