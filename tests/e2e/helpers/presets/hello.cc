// For the cc preset: a dynamically linked C++ program (libstdc++, libgcc_s,
// libgomp through OpenMP, threads) built with the host's g++.
#include <omp.h>

#include <iostream>
#include <map>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  std::map<std::string, int> words{{"hello", 1}, {"from", 2}, {"c++", 3}};
  std::string line;
  for (const auto& [w, n] : words) line += w + "=" + std::to_string(n) + " ";
  std::vector<long> v(1000);
  std::iota(v.begin(), v.end(), 1);
  long sum = 0;
#pragma omp parallel for reduction(+ : sum)
  for (size_t i = 0; i < v.size(); ++i) sum += v[i];
  int caught = 0;
  try {
    throw std::runtime_error("unwinding works");
  } catch (const std::exception& e) {
    caught = 1;
  }
  long from_thread = 0;
  std::thread t([&] { from_thread = 42; });
  t.join();
  std::cout << "hello from c++ " << __cplusplus << "\n"
            << line << "\nsum=" << sum << " caught=" << caught << " thread=" << from_thread
            << " omp_max_threads_ok=" << (omp_get_max_threads() >= 1) << " argc=" << argc << std::endl;
  return 0;
}
