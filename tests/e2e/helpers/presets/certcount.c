/* For the static preset: a static program that reads the CA bundle named by
 * SSL_CERT_FILE and prints how many certificates it holds, as
 * "certificates=N" (and the file's name). Exit 1 if it cannot read it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  const char *path = getenv("SSL_CERT_FILE");
  if (!path) {
    fprintf(stderr, "SSL_CERT_FILE is not set\n");
    return 1;
  }
  FILE *f = fopen(path, "r");
  if (!f) {
    perror(path);
    return 1;
  }
  char line[4096];
  long n = 0;
  while (fgets(line, sizeof line, f))
    if (strstr(line, "BEGIN CERTIFICATE")) n++;
  fclose(f);
  printf("file=%s\ncertificates=%ld\n", path, n);
  return 0;
}
