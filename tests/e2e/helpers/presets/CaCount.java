// For the java preset: opens /etc/ssl/certs/java/cacerts as a JKS keystore
// with the password "changeit", prints its number of entries, then the
// number of issuers the JRE's default TrustManager accepts.
import java.io.FileInputStream;
import java.security.KeyStore;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

public class CaCount {
  public static void main(String[] args) throws Exception {
    KeyStore ks = KeyStore.getInstance("JKS");
    try (FileInputStream in = new FileInputStream("/etc/ssl/certs/java/cacerts")) {
      ks.load(in, "changeit".toCharArray());
    }
    System.out.println("entries=" + ks.size());
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init((KeyStore) null);
    int n = 0;
    for (TrustManager tm : tmf.getTrustManagers())
      if (tm instanceof X509TrustManager) n += ((X509TrustManager) tm).getAcceptedIssuers().length;
    System.out.println("default-trust=" + n);
  }
}
