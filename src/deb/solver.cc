#include "deb/solver.h"

#include <algorithm>
#include <functional>
#include <set>
#include <unordered_map>

#include "base/error.h"

namespace distill::deb {

PackageRequest PackageRequest::parse(const std::string& text) {
  PackageRequest r;
  r.text = text;
  std::string s = text;
  if (!s.empty() && s[0] == '!') {
    r.exclude = true;
    s.erase(0, 1);
  }
  if (auto eq = s.find('='); eq != std::string::npos) {
    r.version = s.substr(eq + 1);
    s.erase(eq);
    if (r.version.empty()) throw Error("\"" + text + "\": '=' names no version");
  }
  if (auto colon = s.find(':'); colon != std::string::npos) {
    r.arch = s.substr(colon + 1);
    s.erase(colon);
  }
  r.name = s;
  auto valid = [](const std::string& n) {
    if (n.size() < 2 || !std::isalnum(static_cast<unsigned char>(n[0]))) return false;
    for (char c : n)
      if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '+' ||
            c == '-' || c == '.'))
        return false;
    return true;
  };
  if (!valid(r.name))
    throw Error("\"" + text + "\" is not a package (write name, name=VERSION, name:ARCH or !name; names are lower-case)");
  if (r.exclude && !r.version.empty()) throw Error("\"" + text + "\": an excluded package takes no version");
  return r;
}

namespace {

int priority_rank(std::string_view p) {
  if (p == "required") return 5;
  if (p == "important") return 4;
  if (p == "standard") return 3;
  if (p == "optional") return 2;
  return 1;
}

/// Calls `visit` with each package name a Provides field lists (a view
/// into `field`), without the versions: "a (= 1), b" gives a and b.
template <typename Visit>
void for_each_provided_name(std::string_view field, Visit visit) {
  size_t start = 0;
  while (start < field.size()) {
    size_t end = field.find_first_of(",|", start);
    if (end == std::string_view::npos) end = field.size();
    std::string_view item = field.substr(start, end - start);
    size_t b = item.find_first_not_of(" \t\n");
    if (b != std::string_view::npos) {
      item.remove_prefix(b);
      item = item.substr(0, item.find_first_of(" \t\n(:"));
      if (!item.empty()) visit(item);
    }
    start = end + 1;
  }
}

struct Relations {
  std::vector<OrGroup> pre_depends, depends, recommends, suggests, conflicts, breaks;
  std::vector<Dependency> provides;
};

class Solver {
 public:
  Solver(const PackageIndex& index, const SolveOptions& options) : m_index(index), m_options(options) {
    // Keys are views into the index's text, which outlives the solver: a
    // full Debian index has 69k names, and a string per name cost a third
    // of the solve.
    m_by_name.reserve(index.packages.size());
    for (const IndexedPackage& p : index.packages) {
      if (p.arch != index.arch && p.arch != "all") continue;
      m_by_name[p.name].push_back(&p);
    }
    for (auto& [name, list] : m_by_name) {
      // Highest version first; for equal versions, the first repository.
      std::stable_sort(list.begin(), list.end(), [](const IndexedPackage* a, const IndexedPackage* b) {
        return compare_versions(a->version, b->version) > 0;
      });
    }
    for (const IndexedPackage& p : index.packages) {
      if ((p.arch != index.arch && p.arch != "all") || p.provides.empty()) continue;
      if (candidate(p.name) != &p) continue;  // only candidates provide
      // Only the provided names, as views into the index (trixie's lists
      // 69k of them, in 13k packages): a provider's relations, with the
      // versions it provides, are parsed when the solver looks at it.
      for_each_provided_name(p.provides, [&](std::string_view name) { m_providers[name].push_back(&p); });
    }
  }

  Resolution run(const std::vector<PackageRequest>& requests) {
    for (const PackageRequest& r : requests) {
      if (!r.exclude) continue;
      const IndexedPackage* p = candidate(r.name);
      if (!p) throw Error("excluded package " + r.name + " is not in any repository" + suggestion(r.name));
      m_installed[r.name] = p;
      m_excluded.insert(r.name);
      m_result.excluded.push_back(p);
    }
    for (const PackageRequest& r : requests)
      if (!r.exclude && !r.version.empty()) m_pinned[r.name] = pick_requested(r);
    // As apt-get install: every requested package is marked first, then
    // their dependencies are resolved in request order.
    std::vector<const IndexedPackage*> to_resolve;
    for (const PackageRequest& r : requests) {
      if (r.exclude) continue;
      const IndexedPackage* p = pick_requested(r);
      // Requested and excluded: counts as installed already (apt: "already
      // the newest version"); nothing to unpack or resolve.
      if (m_excluded.count(r.name) && m_installed[r.name] == p) continue;
      if (auto it = m_installed.find(r.name); it != m_installed.end() && it->second != p) {
        if (m_excluded.count(r.name)) throw Error("package " + r.name + " is both requested (" + r.text + ") and excluded");
        throw Error("package " + r.name + " is requested twice with different versions");
      }
      m_result.reasons[r.name] = Reason{};
      m_installed[std::string(p->name)] = p;
      if (!r.nodeps) to_resolve.push_back(p);  // nodeps: as listed, like distroless's explicit sets
    }
    for (const IndexedPackage* p : to_resolve) install_dependencies(p);
    check_conflicts();
    for (const auto& [name, p] : m_installed)
      if (!m_excluded.count(name)) m_result.packages.push_back(p);
    return std::move(m_result);
  }

 private:
  struct Parsed {
    Relations rel;
    std::vector<OrGroup> provides;
    const std::vector<OrGroup>& provides_groups() const { return provides; }
  };

  const Parsed& relations(const IndexedPackage* p) {
    auto it = m_parsed.find(p);
    if (it != m_parsed.end()) return it->second;
    std::string what = std::string(p->name) + " " + std::string(p->version);
    Parsed parsed;
    parsed.rel.pre_depends = parse_relations(p->pre_depends, what + " Pre-Depends");
    parsed.rel.depends = parse_relations(p->depends, what + " Depends");
    if (m_options.recommends) parsed.rel.recommends = parse_relations(p->recommends, what + " Recommends");
    if (m_options.suggests) parsed.rel.suggests = parse_relations(p->suggests, what + " Suggests");
    parsed.rel.conflicts = parse_relations(p->conflicts, what + " Conflicts");
    parsed.rel.breaks = parse_relations(p->breaks, what + " Breaks");
    parsed.provides = parse_relations(p->provides, what + " Provides");
    return m_parsed.emplace(p, std::move(parsed)).first->second;
  }

  const IndexedPackage* candidate(std::string_view name) const {
    // A pinned request sets the candidate, as apt-get install name=VERSION does.
    if (auto pin = m_pinned.find(name); pin != m_pinned.end()) return pin->second;
    auto it = m_by_name.find(name);
    return it == m_by_name.end() || it->second.empty() ? nullptr : it->second.front();
  }

  std::string where(const IndexedPackage* p) const {
    const Source& s = m_index.sources.at(p->source);
    return s.uri + " " + s.suite;
  }

  std::string suggestion(const std::string& name) const {
    std::vector<std::string> close;
    for (const auto& [n, list] : m_by_name)
      if (n.find(name) != std::string::npos && close.size() < 5) close.push_back(std::string(n));
    if (auto it = m_providers.find(name); it != m_providers.end()) {
      std::string s = " as a real package; it is provided by:";
      for (const IndexedPackage* p : it->second) s.append(" ").append(p->name);
      return s;
    }
    if (close.empty()) return "";
    std::string s = " (did you mean:";
    for (const auto& c : close) s.append(" ").append(c);
    return s + "?)";
  }

  const IndexedPackage* pick_requested(const PackageRequest& r) {
    if (!r.arch.empty() && r.arch != m_index.arch && r.arch != "all" && r.arch != "any" && r.arch != "native")
      throw Error(r.text + ": architecture " + r.arch + " is not the one being built (" + m_index.arch + ")");
    auto it = m_by_name.find(r.name);
    if (it == m_by_name.end()) {
      if (auto prov = m_providers.find(r.name); prov != m_providers.end()) {
        if (prov->second.size() == 1) return prov->second.front();
        std::string s = "package " + r.name + " is virtual; name one of its providers:";
        for (const IndexedPackage* p : prov->second) s.append(" ").append(p->name);
        throw Error(s);
      }
      throw Error("package " + r.name + " is not in any repository" + suggestion(r.name));
    }
    if (r.version.empty()) return it->second.front();
    for (const IndexedPackage* p : it->second)
      if (compare_versions(p->version, r.version) == 0) return p;
    std::string offered;
    for (const IndexedPackage* p : it->second) offered += (offered.empty() ? "" : ", ") + std::string(p->version) + " from " + where(p);
    throw Error(r.text + ": version " + r.version + " of " + r.name + " is not offered; the repositories offer " + offered);
  }

  bool arch_ok(const Dependency& d, const IndexedPackage* p) const {
    if (d.arch.empty() || d.arch == "native") return true;
    if (d.arch == "any") return p->multi_arch == "allowed";
    return d.arch == p->arch || (p->arch == "all" && d.arch == m_index.arch);
  }

  /// True if installed package `p` satisfies the single alternative `d`.
  bool provides_match(const IndexedPackage* p, const Dependency& d) {
    for (const OrGroup& g : relations(p).provides)
      for (const Dependency& prov : g) {
        if (prov.name != d.name) continue;
        if (d.op == Relation::any) return true;
        if (prov.op == Relation::eq && satisfies(prov.version, d.op, d.version)) return true;
      }
    return false;
  }

  bool matches(const IndexedPackage* p, const Dependency& d) {
    if (p->name == d.name) return arch_ok(d, p) && satisfies(p->version, d.op, d.version);
    return provides_match(p, d);
  }

  bool satisfied(const OrGroup& group) {
    for (const Dependency& d : group) {
      if (auto it = m_installed.find(d.name); it != m_installed.end() && matches(it->second, d)) return true;
      if (auto it = m_providers.find(d.name); it != m_providers.end())
        for (const IndexedPackage* p : it->second)
          if (m_installed.count(std::string(p->name)) && m_installed[std::string(p->name)] == p && provides_match(p, d))
            return true;
    }
    return false;
  }

  /// Does `a` declare a conflict or break with `b` (or the reverse)?
  bool conflicts_one_way(const IndexedPackage* a, const IndexedPackage* b) {
    if (a->name == b->name) return false;
    const Parsed& r = relations(a);
    for (const auto* list : {&r.rel.conflicts, &r.rel.breaks})
      for (const OrGroup& g : *list)
        for (const Dependency& d : g)
          if (matches(b, d)) return true;
    return false;
  }

  const IndexedPackage* conflicting_installed(const IndexedPackage* p) {
    for (const auto& [name, q] : m_installed)
      if (conflicts_one_way(p, q) || conflicts_one_way(q, p)) return q;
    return nullptr;
  }

  /// The installable targets of a group, in apt's order of preference:
  /// alternatives in order; for each, the real package's candidate, else its
  /// providers (higher Priority first; among equals the one listed last in
  /// the index, as apt's provider ordering works out). `avoid` are packages
  /// about to be installed beside this group (its parent's single-choice
  /// dependencies): targets conflicting with them are passed over, as
  /// apt's problem resolver would end up doing.
  std::vector<const IndexedPackage*> choices(const OrGroup& group, const std::vector<const IndexedPackage*>& avoid,
                                             std::string& why_not) {
    std::vector<const IndexedPackage*> out;
    auto conflicts_avoid = [&](const IndexedPackage* c) -> const IndexedPackage* {
      for (const IndexedPackage* a : avoid)
        if (a != c && (conflicts_one_way(c, a) || conflicts_one_way(a, c))) return a;
      return nullptr;
    };
    for (const Dependency& d : group) {
      const IndexedPackage* cand = candidate(d.name);
      if (cand && arch_ok(d, cand)) {
        if (!satisfies(cand->version, d.op, d.version)) {
          why_not += "; " + d.name + " " + std::string(cand->version) + " from " + where(cand) + " does not satisfy " + d.str();
        } else if (m_installed.count(d.name)) {
          why_not += "; " + d.name + " " + std::string(m_installed[d.name]->version) + " is already chosen";
        } else if (const IndexedPackage* c = conflicting_installed(cand)) {
          why_not += "; " + d.name + " conflicts with " + std::string(c->name);
        } else if (const IndexedPackage* c2 = conflicts_avoid(cand)) {
          why_not += "; " + d.name + " conflicts with " + std::string(c2->name);
        } else {
          out.push_back(cand);
          continue;
        }
      } else if (cand) {
        why_not += "; " + d.name + " is not Multi-Arch: allowed, so it cannot satisfy " + d.str();
      }
      auto prov = m_providers.find(d.name);
      std::vector<const IndexedPackage*> options;
      if (prov != m_providers.end())
        for (const IndexedPackage* p : prov->second) {
          if (!provides_match(p, d)) continue;
          if (m_installed.count(std::string(p->name))) continue;
          if (conflicting_installed(p) || conflicts_avoid(p)) continue;
          options.push_back(p);
        }
      std::sort(options.begin(), options.end(), [](const IndexedPackage* a, const IndexedPackage* b) {
        int pa = priority_rank(a->priority), pb = priority_rank(b->priority);
        return pa != pb ? pa > pb : a > b;  // packages sit in index order in one vector
      });
      out.insert(out.end(), options.begin(), options.end());
      if (!cand && prov == m_providers.end()) why_not += "; " + d.name + " is not in any repository";
      else if (!cand && options.empty()) why_not += "; no package providing " + d.name + " satisfies " + d.str();
    }
    return out;
  }

  static std::string group_str(const OrGroup& g) {
    std::string s;
    for (const Dependency& d : g) s += (s.empty() ? "" : " | ") + d.str();
    return s;
  }

  void install(const IndexedPackage* p) {
    std::string name(p->name);
    if (m_installed.count(name)) return;
    m_installed[name] = p;
    install_dependencies(p);
  }

  /// Satisfies p's dependencies, depth first. An alternative whose own
  /// dependencies cannot be met is rolled back and the next one tried, as
  /// apt does.
  void install_dependencies(const IndexedPackage* p) {
    std::string name(p->name);
    const Parsed& parsed = relations(p);
    std::vector<std::pair<const char*, const OrGroup*>> groups;
    for (const OrGroup& g : parsed.rel.pre_depends) groups.push_back({"Pre-Depends", &g});
    for (const OrGroup& g : parsed.rel.depends) groups.push_back({"Depends", &g});
    for (const OrGroup& g : parsed.rel.recommends) groups.push_back({"Recommends", &g});
    for (const OrGroup& g : parsed.rel.suggests) groups.push_back({"Suggests", &g});
    std::vector<std::pair<const char*, const OrGroup*>> unsatisfied;
    std::vector<const IndexedPackage*> definite;
    for (const auto& g : groups)
      if (!satisfied(*g.second)) {
        unsatisfied.push_back(g);
        if (g.second->size() == 1)
          if (const IndexedPackage* c = candidate(g.second->front().name)) definite.push_back(c);
      }
    for (const auto& [field, group] : unsatisfied) {
      if (satisfied(*group)) continue;
      std::string why_not;
      std::vector<const IndexedPackage*> targets = choices(*group, group->size() > 1 ? definite : std::vector<const IndexedPackage*>{}, why_not);
      std::string via = std::string(field) + ": " + group_str(*group);
      bool weak = std::string_view(field) == "Recommends" || std::string_view(field) == "Suggests";
      if (targets.empty()) {
        if (weak) continue;  // apt skips weak dependencies it cannot satisfy
        throw Error("cannot install " + name + " " + std::string(p->version) + ": it needs " + group_str(*group) +
                    ", but" + why_not.substr(1) + "\n  " + name + " is " + chain(name));
      }
      std::optional<Error> first_failure;
      bool done = false;
      for (size_t i = 0; i < targets.size() && !done; ++i) {
        const IndexedPackage* target = targets[i];
        std::string tname(target->name);
        if (i + 1 == targets.size() && !weak) {
          m_result.reasons.try_emplace(tname, Reason{name, std::string(p->version), via});
          install(target);  // the last choice: its failure is the answer
          done = true;
          break;
        }
        auto installed = m_installed;
        auto reasons = m_result.reasons;
        try {
          m_result.reasons.try_emplace(tname, Reason{name, std::string(p->version), via});
          install(target);
          done = true;
        } catch (const Error& e) {
          m_installed = std::move(installed);
          m_result.reasons = std::move(reasons);
          if (!first_failure) first_failure = e;
        }
      }
      if (!done && !weak && first_failure) throw *first_failure;
    }
  }

  std::string chain(const std::string& name) const {
    std::string s;
    std::string cur = name;
    for (int depth = 0; depth < 50; ++depth) {
      auto it = m_result.reasons.find(cur);
      if (it == m_result.reasons.end() || it->second.parent.empty()) return s + "requested";
      s += "needed by " + it->second.parent + " " + it->second.version + " (" + it->second.via + "), which is ";
      cur = it->second.parent;
    }
    return s + "...";
  }

  void check_conflicts() {
    for (const auto& [an, a] : m_installed)
      for (const auto& [bn, b] : m_installed) {
        if (an >= bn) continue;
        if (conflicts_one_way(a, b) || conflicts_one_way(b, a))
          throw Error("packages " + an + " " + std::string(a->version) + " and " + bn + " " + std::string(b->version) +
                      " conflict (Conflicts/Breaks) and cannot be installed together\n  " + an + " is " + chain(an) +
                      "\n  " + bn + " is " + chain(bn));
      }
  }

  const PackageIndex& m_index;
  SolveOptions m_options;
  std::unordered_map<std::string_view, std::vector<const IndexedPackage*>> m_by_name;
  std::unordered_map<std::string_view, std::vector<const IndexedPackage*>> m_providers;
  std::unordered_map<const IndexedPackage*, Parsed> m_parsed;
  std::map<std::string, const IndexedPackage*> m_installed;
  std::set<std::string> m_excluded;
  std::map<std::string, const IndexedPackage*, std::less<>> m_pinned;
  Resolution m_result;
};

}  // namespace

Resolution solve(const PackageIndex& index, const std::vector<PackageRequest>& requests, const SolveOptions& options) {
  Solver solver(index, options);
  return solver.run(requests);
}

std::string explain(const Resolution& r, const std::string& name) {
  std::string s = name;
  std::string cur = name;
  for (int depth = 0; depth < 100; ++depth) {
    auto it = r.reasons.find(cur);
    if (it == r.reasons.end()) return s + " is not in the image";
    if (it->second.parent.empty()) return s + " <- requested";
    s += " <- " + it->second.parent + " " + it->second.version + " (" + it->second.via + ")";
    cur = it->second.parent;
  }
  return s;
}

}  // namespace distill::deb
