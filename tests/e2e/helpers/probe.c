/* The e2e probe: a static program that prints what it sees inside a
 * container, one "key=value" per line, for the run tests to check.
 * `probe caps` prints only its effective capabilities (CapEff of
 * /proc/self/status), which a file capability on the probe raises. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int print_capabilities(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "CapEff:", 7) == 0) {
      char *v = line + 7;
      v += strspn(v, " \t");
      printf("capeff=%s", v);
      return 0;
    }
  printf("capeff=?\n");
  return 1;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "caps") == 0) return print_capabilities();
  char cwd[4096];
  printf("uid=%d\n", (int)getuid());
  printf("gid=%d\n", (int)getgid());
  printf("cwd=%s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
  printf("argc=%d\n", argc);
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  const char *names[] = {"APP_MODE", "LANG", "PATH"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    const char *v = getenv(names[i]);
    printf("env:%s=%s\n", names[i], v ? v : "(unset)");
  }
  return 0;
}
