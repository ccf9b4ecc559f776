// A tiny static program for the example image: prints its arguments, the
// user it runs as, its working directory and one environment variable, so a
// run shows that entrypoint, cmd, user, workdir and env took effect.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char** argv) {
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
  printf("hello from distill\n");
  printf("uid=%u gid=%u cwd=%s\n", (unsigned)getuid(), (unsigned)getgid(), cwd);
  const char* greeting = getenv("GREETING");
  printf("GREETING=%s\n", greeting ? greeting : "(unset)");
  for (int i = 1; i < argc; i++) printf("arg%d=%s\n", i, argv[i]);
  FILE* f = fopen("/etc/hello/message.txt", "r");
  if (f) {
    char line[256];
    if (fgets(line, sizeof line, f)) printf("message: %s", line);
    fclose(f);
  }
  return 0;
}
