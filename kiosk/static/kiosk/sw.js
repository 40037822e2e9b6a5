// The tracker's service worker (served at /t/sw.js, scope /t/): shows the Web Push
// notifications the outbox sends ("Sắp đến lượt", "Mời số ... đến quầy ...") and opens the
// tracker page when one is tapped. It caches nothing.
self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {body: event.data.text()}; }
  event.waitUntil(self.registration.showNotification(data.title || "xephang", {
    body: data.body || "",
    tag: data.tag || undefined,
    renotify: true,
    requireInteraction: true,
    data: {url: data.url || "/"}
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(self.clients.matchAll({type: "window", includeUncontrolled: true})
    .then(function (list) {
      for (var i = 0; i < list.length; i++) {
        if (list[i].url === url && "focus" in list[i]) { return list[i].focus(); }
      }
      return self.clients.openWindow(url);
    }));
});
