#include <gtest/gtest.h>

#include "base/error.h"
#include "oci/image.h"
#include "oci/reference.h"

using namespace distill;

TEST(ImageRef, ParsesTransports) {
  ImageRef a = ImageRef::parse("oci:out/dir:1.0");
  EXPECT_EQ(a.transport, ImageRef::Transport::oci_dir);
  EXPECT_EQ(a.path, "out/dir");
  EXPECT_EQ(a.tag, "1.0");
  ImageRef b = ImageRef::parse("oci-archive:/tmp/x.tar");
  EXPECT_EQ(b.transport, ImageRef::Transport::oci_archive);
  EXPECT_EQ(b.tag, "");
  ImageRef c = ImageRef::parse("docker-archive:x.tar:example/app:2");
  EXPECT_EQ(c.transport, ImageRef::Transport::docker_archive);
  EXPECT_EQ(c.path, "x.tar");
  EXPECT_EQ(c.tag, "example/app:2");
  EXPECT_EQ(c.str(), "docker-archive:x.tar:example/app:2");
}

TEST(ImageRef, RejectsMistakesAsUsageErrors) {
  EXPECT_THROW(ImageRef::parse("out"), UsageError);
  EXPECT_THROW(ImageRef::parse("dir:out"), UsageError);
  EXPECT_THROW(ImageRef::parse("oci:"), UsageError);
  EXPECT_THROW(ImageRef::parse("oci:out:"), UsageError);
  EXPECT_THROW(ImageRef::parse("oci:out:bad tag"), UsageError);
  EXPECT_THROW(ImageRef::parse("docker-archive:x.tar:UPPER/case"), UsageError);
}

TEST(DockerName, NormalizesLikeDocker) {
  DockerName a = DockerName::parse("app");
  EXPECT_EQ(a.familiar, "app:latest");
  EXPECT_EQ(a.full, "docker.io/library/app:latest");
  DockerName b = DockerName::parse("example/app:1.0");
  EXPECT_EQ(b.familiar, "example/app:1.0");
  EXPECT_EQ(b.full, "docker.io/example/app:1.0");
  DockerName c = DockerName::parse("localhost:5000/team/app:v2");
  EXPECT_EQ(c.repository_familiar, "localhost:5000/team/app");
  EXPECT_EQ(c.full, "localhost:5000/team/app:v2");
  EXPECT_EQ(c.tag, "v2");
}

TEST(RefName, FollowsAnnotationGrammar) {
  EXPECT_TRUE(valid_ref_name("latest"));
  EXPECT_TRUE(valid_ref_name("1.0.2-rc1"));
  EXPECT_TRUE(valid_ref_name("example.com/app:1.0"));
  EXPECT_FALSE(valid_ref_name("-lead"));
  EXPECT_FALSE(valid_ref_name("a b"));
  EXPECT_FALSE(valid_ref_name(""));
}

TEST(Platform, MapsDebianAndOciNames) {
  EXPECT_EQ(Platform::from_arch("amd64").str(), "linux/amd64");
  EXPECT_EQ(Platform::from_arch("armhf").str(), "linux/arm/v7");
  EXPECT_EQ(Platform::from_arch("ppc64el").str(), "linux/ppc64le");
  EXPECT_EQ(Platform::from_arch("i386").str(), "linux/386");
  EXPECT_THROW(Platform::from_arch("vax"), Error);
}

TEST(Rfc3339, FormatsUtc) {
  EXPECT_EQ(rfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(rfc3339(1700000000), "2023-11-14T22:13:20Z");
}
