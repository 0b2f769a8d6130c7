// A CartPole agent in C++ that talks to gym-server's REST API with libcurl and nlohmann/json.
//
// It creates an instance, plays episodes with a hand-written balancing policy (push the cart
// towards where the pole leans, looking a little ahead at its angular velocity), prints each
// episode's return, and closes the instance. Any other id with a Discrete action space works
// too: the agent then plays the server's random samples (GET action_space/sample).
//
//   make -C examples/cpp && examples/cpp/build/cartpole_agent --url http://127.0.0.1:5000 --seconds 10
//
// Options: --url URL (default http://127.0.0.1:5000), --seconds S (default 10), --episodes N
// (default: until time is up), --env ID (default CartPole-v1), --seed N, --api-key KEY.
// The last line is "summary: steps=N episodes=E"; the exit status is 1 on any error.

#include <curl/curl.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

using json = nlohmann::json;

namespace {

// An error the server reported ({"message": ...}) or a transport failure.
struct ApiError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// One keep-alive connection to the API: POST/GET with JSON bodies, JSON answers.
class GymClient {
public:
    GymClient(std::string url, std::optional<std::string> apiKey) : url_(std::move(url)) {
        while (!url_.empty() && url_.back() == '/') url_.pop_back();
        curl_ = curl_easy_init();
        if (curl_ == nullptr) throw ApiError("curl_easy_init failed");
        headers_ = curl_slist_append(headers_, "Content-Type: application/json");
        headers_ = curl_slist_append(headers_, "Accept: application/json");
        if (apiKey) headers_ = curl_slist_append(headers_, ("X-API-Key: " + *apiKey).c_str());
    }
    ~GymClient() {
        curl_slist_free_all(headers_);
        curl_easy_cleanup(curl_);
    }
    GymClient(const GymClient&) = delete;
    GymClient& operator=(const GymClient&) = delete;

    json post(const std::string& path, const json& body) { return request("POST", path, body.dump()); }
    json get(const std::string& path) { return request("GET", path, std::nullopt); }

private:
    static size_t collect(char* data, size_t size, size_t count, void* out) {
        static_cast<std::string*>(out)->append(data, size * count);
        return size * count;
    }

    json request(const char* method, const std::string& path, const std::optional<std::string>& body) {
        std::string answer;
        const std::string target = url_ + path;
        curl_easy_setopt(curl_, CURLOPT_URL, target.c_str());
        curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
        curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &answer);
        curl_easy_setopt(curl_, CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(curl_, CURLOPT_TCP_NODELAY, 1L);
        if (body) {
            curl_easy_setopt(curl_, CURLOPT_POST, 1L);
            curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body->c_str());
            curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
        } else {
            curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
        }
        const CURLcode code = curl_easy_perform(curl_);
        if (code != CURLE_OK) {
            throw ApiError(std::string(method) + " " + target + ": " + curl_easy_strerror(code));
        }
        long status = 0;
        curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
        json parsed = json::parse(answer, nullptr, /*allow_exceptions=*/false);
        if (status >= 400) {
            std::string message = parsed.is_object() && parsed.contains("message") && parsed["message"].is_string()
                                      ? parsed["message"].get<std::string>()
                                      : answer;
            throw ApiError(std::string(method) + " " + path + " (HTTP " + std::to_string(status) + "): " + message);
        }
        if (parsed.is_discarded()) throw ApiError(std::string(method) + " " + path + ": the answer is not JSON: " + answer);
        return parsed;
    }

    std::string url_;
    CURL* curl_ = nullptr;
    curl_slist* headers_ = nullptr;
};

struct Options {
    std::string url = "http://127.0.0.1:5000";
    std::string env = "CartPole-v1";
    double seconds = 10.0;
    long episodes = -1;  // until time is up
    long seed = 0;
    std::optional<std::string> apiKey;
};

const char* const kUsage =
    "usage: cartpole_agent [--url URL] [--seconds S] [--episodes N] [--env ID] [--seed N] [--api-key KEY]\n";

[[noreturn]] void usage(const std::string& problem) {
    std::cerr << "error: " << problem << "\n" << kUsage;
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--help" || flag == "-h") {
            std::cout << kUsage;
            std::exit(0);
        }
        if (i + 1 >= argc) usage(flag + " needs a value");
        const std::string value = argv[++i];
        try {
            size_t used = 0;
            if (flag == "--url") {
                options.url = value;
            } else if (flag == "--env") {
                options.env = value;
            } else if (flag == "--api-key") {
                options.apiKey = value;
            } else if (flag == "--seconds") {
                options.seconds = std::stod(value, &used);
                if (used != value.size() || !(options.seconds > 0)) usage("--seconds must be a positive number");
            } else if (flag == "--episodes") {
                options.episodes = std::stol(value, &used);
                if (used != value.size() || options.episodes < 1) usage("--episodes must be a positive integer");
            } else if (flag == "--seed") {
                options.seed = std::stol(value, &used);
                if (used != value.size() || options.seed < 0) usage("--seed must be a non-negative integer");
            } else {
                usage("unknown option " + flag);
            }
        } catch (const std::logic_error&) {
            usage(flag + " needs a number, got " + value);
        }
    }
    return options;
}

// Push towards the side the pole leans to, anticipating with its angular velocity.
int balance(const json& observation) {
    const double angle = observation.at(2).get<double>();
    const double angularVelocity = observation.at(3).get<double>();
    return angle + 0.5 * angularVelocity > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    const Options options = parse(argc, argv);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    long steps = 0;
    long episodes = 0;
    int status = 0;
    try {
        GymClient api(options.url, options.apiKey);
        const std::string id =
            api.post("/v1/envs/", {{"env_id", options.env}, {"seed", options.seed}}).at("instance_id").get<std::string>();
        const std::string base = "/v1/envs/" + id + "/";
        const json actionSpace = api.get(base + "action_space/").at("info");
        if (actionSpace.at("name") != "Discrete") throw ApiError(options.env + " has no Discrete action space");
        const bool cartPole = options.env.rfind("CartPole-", 0) == 0;
        std::cout << options.env << " is instance " << id << " on " << options.url
                  << (cartPole ? " (balancing policy)" : " (random actions from the server)") << std::endl;

        const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(options.seconds);
        bool timeUp = false;
        while (!timeUp && (options.episodes < 0 || episodes < options.episodes)) {
            json observation = api.post(base + "reset/", json::object()).at("observation");
            double total = 0.0;
            long length = 0;
            while (true) {
                const int action = cartPole ? balance(observation)
                                            : api.get(base + "action_space/sample").at("action").get<int>();
                const json result = api.post(base + "step/", {{"action", action}});
                observation = result.at("observation");
                total += result.at("reward").get<double>();
                ++length;
                ++steps;
                if (result.at("terminated").get<bool>() || result.at("truncated").get<bool>()) break;
                if (std::chrono::steady_clock::now() > deadline) {
                    timeUp = true;
                    break;
                }
            }
            if (timeUp) {
                std::cout << "time is up in the middle of episode " << episodes << " (" << length << " steps)" << std::endl;
                break;
            }
            std::cout << "episode " << episodes << ": return " << total << " in " << length << " steps" << std::endl;
            ++episodes;
            timeUp = std::chrono::steady_clock::now() > deadline;
        }
        api.post(base + "close/", json::object());
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << std::endl;
        status = 1;
    }
    std::cout << "summary: steps=" << steps << " episodes=" << episodes << std::endl;
    curl_global_cleanup();
    return status;
}
