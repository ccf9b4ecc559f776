#include "store/maintenance.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "base/error.h"
#include "digest/digest.h"

namespace distill {

namespace {

struct StoredFile {
  fs::path path;
  uint64_t size = 0;
  int64_t last_use_ns = 0;  // max(atime, mtime)
};

/// The entries directly in `dir`, a directory's size being its files'.
std::vector<StoredFile> files_in(const fs::path& dir) {
  std::vector<StoredFile> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    int64_t atime = int64_t(st.st_atim.tv_sec) * 1000000000 + st.st_atim.tv_nsec;
    int64_t mtime = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    uint64_t size = S_ISDIR(st.st_mode) ? 0 : static_cast<uint64_t>(st.st_size);
    if (S_ISDIR(st.st_mode)) {
      std::error_code ec2;
      for (fs::recursive_directory_iterator r(it->path(), ec2), rend; !ec2 && r != rend; r.increment(ec2))
        if (r->is_regular_file(ec2)) size += r->file_size(ec2);
    }
    out.push_back({it->path(), size, std::max(atime, mtime)});
  }
  return out;
}

class InUse : public Error {
 public:
  using Error::Error;
};

/// Holds the store's lock exclusively, or says who has it.
Fd lock_exclusively(const fs::path& root) {
  Fd lock(::open((root / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock) throw_errno("cannot open " + (root / "lock").string());
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      throw InUse("the cache " + root.string() + " is in use by a running distill; prune it when that ends");
    throw_errno("cannot lock " + (root / "lock").string());
  }
  return lock;
}

/// The blob an action record names (its "digest"), if it names one.
std::optional<std::string> named_blob(const fs::path& action) {
  try {
    auto record = nlohmann::json::parse(read_file(action));
    if (record.is_object() && record.contains("digest") && record["digest"].is_string()) {
      Digest d = Digest::parse(record["digest"].get<std::string>());
      return d.hex;
    }
  } catch (const std::exception&) {
    return "";  // a damaged record: it names nothing that exists
  }
  return std::nullopt;
}

void remove(const fs::path& path, bool dry_run) {
  if (dry_run) return;
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) throw Error("cannot remove " + path.string() + ": " + ec.message());
}

}  // namespace

nlohmann::json CacheUsage::to_json() const {
  return {{"blobs", {{"count", blobs}, {"bytes", blob_bytes}}},
          {"actions", {{"count", actions}, {"bytes", action_bytes}}},
          {"temporary", {{"count", temporaries}, {"bytes", temporary_bytes}}},
          {"bytes", bytes()}};
}

CacheUsage cache_usage(const fs::path& root) {
  CacheUsage u;
  for (const StoredFile& f : files_in(root / "blobs" / "sha256")) ++u.blobs, u.blob_bytes += f.size;
  for (const StoredFile& f : files_in(root / "actions")) ++u.actions, u.action_bytes += f.size;
  for (const StoredFile& f : files_in(root / "tmp")) ++u.temporaries, u.temporary_bytes += f.size;
  return u;
}

PruneResult prune_cache(const fs::path& root, const PruneOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(root / "blobs", ec)) throw Error(root.string() + " is not a distill cache (it has no blobs/)");
  Fd lock = lock_exclusively(root);
  PruneResult result;
  // No distill is running (the lock): every temporary is a leftover.
  for (const StoredFile& f : files_in(root / "tmp")) {
    remove(f.path, options.dry_run);
    ++result.temporaries;
  }
  std::vector<StoredFile> blobs = files_in(root / "blobs" / "sha256");
  std::vector<StoredFile> actions = files_in(root / "actions");
  uint64_t total = 0;
  for (const auto* list : {&blobs, &actions})
    for (const StoredFile& f : *list) total += f.size;
  // Least recently used first; the name settles ties, so a prune is
  // the same whatever order the directory lists.
  std::sort(blobs.begin(), blobs.end(), [](const StoredFile& a, const StoredFile& b) {
    return a.last_use_ns != b.last_use_ns ? a.last_use_ns < b.last_use_ns : a.path < b.path;
  });
  std::set<std::string> gone;
  for (const StoredFile& b : blobs) {
    if (!options.all && (!options.max_size || total <= *options.max_size)) break;
    remove(b.path, options.dry_run);
    gone.insert(b.path.filename().string());
    ++result.blobs;
    result.blob_bytes += b.size;
    total -= b.size;
  }
  for (const StoredFile& a : actions) {
    bool drop = options.all;
    if (!drop) {
      auto blob = named_blob(a.path);
      drop = blob && (blob->empty() || gone.count(*blob) ||
                      !fs::exists(root / "blobs" / "sha256" / *blob, ec));
    }
    if (!drop) continue;
    remove(a.path, options.dry_run);
    ++result.actions;
  }
  result.remaining = cache_usage(root);
  return result;
}

std::optional<PruneResult> prune_if_over(const fs::path& root, uint64_t max_size) {
  if (cache_usage(root).bytes() <= max_size) return std::nullopt;
  PruneOptions options;
  options.max_size = max_size / 10 * 9;
  try {
    return prune_cache(root, options);
  } catch (const InUse&) {
    return std::nullopt;  // the distill that holds it prunes when it ends
  }
}

uint64_t parse_size(const std::string& text, const std::string& what) {
  static const std::map<std::string, double> units = {
      {"", 1},        {"B", 1},          {"K", 1024.0},      {"KB", 1024.0},     {"KIB", 1024.0},
      {"M", 1 << 20}, {"MB", 1 << 20},   {"MIB", 1 << 20},   {"G", 1 << 30},     {"GB", 1 << 30},
      {"GIB", 1 << 30}, {"T", std::pow(1024.0, 4)}, {"TB", std::pow(1024.0, 4)}, {"TIB", std::pow(1024.0, 4)}};
  size_t digits = 0;
  while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) ++digits;
  std::string unit = text.substr(digits);
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::toupper(c); });
  auto it = units.find(unit);
  double value = 0;
  try {
    size_t used = 0;
    value = digits ? std::stod(text.substr(0, digits), &used) : -1;
    if (used != digits) value = -1;
  } catch (const std::exception&) {
    value = -1;
  }
  if (it == units.end() || value < 0)
    throw UsageError(what + ": \"" + text + "\" is not a size (examples: 500M, 2G, 1.5GiB, 4096)");
  return static_cast<uint64_t>(value * it->second);
}

}  // namespace distill
