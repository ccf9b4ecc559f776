// For the java preset: the application of a spec "from: preset:java".
public class Hello {
  public static void main(String[] args) {
    System.out.println("hello from java " + Runtime.version().feature());
    System.out.println("user.dir=" + System.getProperty("user.dir"));
    System.out.println("file.encoding=" + System.getProperty("file.encoding"));
    // File names: from the locale (LANG=C.UTF-8) on every Java version.
    System.out.println("sun.jnu.encoding=" + System.getProperty("sun.jnu.encoding"));
  }
}
