/* For base-nossl and base: a dynamically linked C program that dlopen()s
 * each library named on its command line and prints "NAME ok" or
 * "NAME missing". */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv) {
  printf("hello from c\n");
  for (int i = 1; i < argc; i++) printf("%s %s\n", argv[i], dlopen(argv[i], RTLD_NOW) ? "ok" : "missing");
  return 0;
}
