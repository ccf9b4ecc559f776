// For the java preset: the application of a spec "from: preset:java".
public class Hello {
  public static void main(String[] args) {
    System.out.println("hello from java " + Runtime.version().feature());
    System.out.println("user.dir=" + System.getProperty("user.dir"));
    System.out.println("file.encoding=" + System.getProperty("file.encoding"));
  }
}
