/* The e2e probe: a static program that prints what it sees inside a
 * container, one "key=value" per line, for the run tests to check. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
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
