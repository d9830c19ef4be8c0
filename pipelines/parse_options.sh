# Sourced by every recipe after it sets its option defaults (Kaldi's and icefall's habit):
#
#   stage=1 stop_stage=100 steps=5500
#   . pipelines/parse_options.sh
#
# turns `--stop-stage 3` into stop_stage=3 for every variable the recipe defined, refuses unknown options in
# one line, prints the recipe's header comment for --help, leaves the positional arguments in "$@", and
# defines stage_on N: true when stage N is within --stage .. --stop-stage.
_positional=()
while (($#)); do
    case $1 in
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        --*)
            _name=${1#--}
            _name=${_name//-/_}
            if [ -z "${!_name+set}" ] || [ $# -lt 2 ]; then
                echo "$(basename "$(dirname "$0")")/$(basename "$0"): unknown option or missing value: $1 (see --help)" >&2
                exit 2
            fi
            printf -v "$_name" '%s' "$2"
            shift 2
            ;;
        *)
            _positional+=("$1")
            shift
            ;;
    esac
done
set -- "${_positional[@]+"${_positional[@]}"}"
unset _positional _name

stage_on() { [ "$1" -ge "${stage:-1}" ] && [ "$1" -le "${stop_stage:-100}" ]; }
