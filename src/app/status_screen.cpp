#include "app/status_screen.hpp"

#include <csignal>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "inspect/screen.hpp"

namespace porthole::app {

namespace asio = net::asio;
using namespace std::chrono_literals;

namespace {
void write_all(std::string_view s) {
  while (!s.empty()) {
    const auto n = ::write(STDOUT_FILENO, s.data(), s.size());
    if (n <= 0) return;  // the terminal went away: nothing to draw on
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}
}  // namespace

struct StatusScreen::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, agent::Agent& a, std::shared_ptr<inspect::Recorder> r, std::string web)
      : agent(a), recorder(std::move(r)), web_interface(std::move(web)), tick(io), soon(io), winch(io, SIGWINCH),
        input(io, ::dup(STDIN_FILENO)) {}

  void start();
  void stop();
  void draw();
  void schedule_tick();
  void read_key();
  void redraw_soon();

  agent::Agent& agent;
  std::shared_ptr<inspect::Recorder> recorder;
  std::string web_interface;
  asio::steady_timer tick, soon;
  asio::signal_set winch;
  asio::posix::stream_descriptor input;
  termios saved{};
  bool have_saved = false;
  bool soon_pending = false;
  bool stopped = false;
  int sub = -1;
  char key = 0;
  std::vector<spdlog::sink_ptr> saved_sinks;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> ring;
};

bool StatusScreen::available() { return ::isatty(STDOUT_FILENO) == 1 && ::isatty(STDIN_FILENO) == 1; }

void StatusScreen::Impl::start() {
  if (::tcgetattr(STDIN_FILENO, &saved) == 0) {
    have_saved = true;
    termios raw = saved;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);  // ISIG stays: Ctrl-C is SIGINT
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
  }
  // Log lines would scribble over the frame: into a ring while the screen shows.
  auto logger = spdlog::default_logger();
  saved_sinks = logger->sinks();
  ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  ring->set_level(spdlog::level::warn);
  ring->set_formatter(std::make_unique<spdlog::pattern_formatter>("%H:%M:%S %l %v"));
  logger->sinks() = {ring};
  write_all("\x1b[?1049h\x1b[?25l");
  if (recorder) {
    sub = recorder->store().subscribe([weak = weak_from_this()](const inspect::ExchangePtr&) {
      if (auto self = weak.lock()) self->redraw_soon();
    });
  }
  struct Winch {
    static void wait(const std::weak_ptr<Impl>& weak) {
      auto self = weak.lock();
      if (!self) return;
      self->winch.async_wait([weak](const net::error_code& ec, int) {
        if (ec) return;
        if (auto s = weak.lock()) {
          s->draw();
          wait(weak);
        }
      });
    }
  };
  Winch::wait(weak_from_this());
  draw();
  schedule_tick();
  read_key();
}

void StatusScreen::Impl::schedule_tick() {
  tick.expires_after(1s);
  tick.async_wait([weak = weak_from_this()](const net::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) {
      self->draw();
      self->schedule_tick();
    }
  });
}

// Many requests a second redraw at most every 100 ms.
void StatusScreen::Impl::redraw_soon() {
  if (soon_pending) return;
  soon_pending = true;
  soon.expires_after(100ms);
  soon.async_wait([weak = weak_from_this()](const net::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) {
      self->soon_pending = false;
      self->draw();
    }
  });
}

void StatusScreen::Impl::read_key() {
  input.async_read_some(asio::buffer(&key, 1), [weak = weak_from_this()](const net::error_code& ec, std::size_t n) {
    auto self = weak.lock();
    if (!self || ec || n == 0) return;  // stdin closed: the screen stays, q no longer works
    if (self->key == 'q' || self->key == 'Q') {
      ::kill(::getpid(), SIGINT);  // the same graceful stop as Ctrl-C
      return;
    }
    self->read_key();
  });
}

void StatusScreen::Impl::draw() {
  if (stopped) return;
  winsize ws{};
  int cols = 80, rows = 24;
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
    cols = ws.ws_col;
    rows = ws.ws_row;
  }
  inspect::ScreenModel m;
  m.status = agent.status();
  m.tunnels = agent.tunnels();
  m.web_interface = web_interface;
  if (recorder) m.latest = recorder->store().list(static_cast<std::size_t>(std::max(0, rows)));
  auto notes = ring->last_formatted(3);
  for (auto& n : notes) {
    while (!n.empty() && (n.back() == '\n' || n.back() == '\r')) n.pop_back();
    m.notes.push_back(std::move(n));
  }
  const auto lines = inspect::render_screen(m, cols, rows);
  std::string frame = "\x1b[H";
  for (std::size_t i = 0; i < lines.size(); ++i) {
    frame += lines[i];
    frame += "\x1b[K";
    if (i + 1 < lines.size()) frame += "\r\n";
  }
  frame += "\x1b[J";
  write_all(frame);
}

void StatusScreen::Impl::stop() {
  if (stopped) return;
  stopped = true;
  net::error_code ec;
  tick.cancel();
  soon.cancel();
  winch.cancel(ec);
  input.cancel(ec);
  if (recorder && sub >= 0) recorder->store().unsubscribe(sub);
  write_all("\x1b[?25h\x1b[?1049l");
  if (have_saved) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  auto logger = spdlog::default_logger();
  logger->sinks() = saved_sinks;
  // What went wrong while the screen showed is still worth reading.
  for (auto& line : ring->last_formatted()) {
    std::fputs(line.c_str(), stderr);
  }
}

StatusScreen::StatusScreen(asio::io_context& io, agent::Agent& a, std::shared_ptr<inspect::Recorder> r,
                           std::string web)
    : impl_(std::make_shared<Impl>(io, a, std::move(r), std::move(web))) {
  impl_->start();
}

StatusScreen::~StatusScreen() { impl_->stop(); }

}  // namespace porthole::app
